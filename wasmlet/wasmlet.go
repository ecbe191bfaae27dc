package wasmlet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/wasmlet/sandbox"
)

// Wasmlet is one node's agent. Make it with New and start it with Run.
type Wasmlet struct {
	cfg Config
	log *slog.Logger
	c   *client.Client

	// Set up by Run.
	rt           *sandbox.Runtime
	modules      *moduleStore
	compiled     *compiledCache
	pods         *client.Informer // the pods bound to this node
	queue        *client.Queue[string]
	statusQueue  *client.Queue[string]
	apiAddr      string // the node API's address, once listening
	apiCertHash  string
	lease        *waskv1.Lease // last renewed (renewLease's goroutine only)
	started      chan struct{} // closed when Run has set up the above
	runOnce      atomic.Bool
	draining     atomic.Bool
	fenced       atomic.Bool  // the Lease went unrenewed for FenceAfter
	openHandlers atomic.Int64 // sandbox handlers made and not yet closed

	mu      sync.Mutex
	running map[string]*podRuntime // by "namespace/name"
	podWG   sync.WaitGroup         // lifecycle goroutines
}

// New returns a wasmlet for cfg; nothing starts until Run.
func New(cfg Config) (*Wasmlet, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	// No gzip: module pulls are the node's big responses, and compressing
	// them costs the apiserver more CPU than it saves on a cluster network.
	c, err := client.New(cfg.Client, connect.WithAcceptCompression("gzip", nil, nil))
	if err != nil {
		return nil, fmt.Errorf("wasmlet: %w", err)
	}
	return &Wasmlet{
		cfg:     cfg,
		log:     cfg.Logger.With("node", cfg.Name),
		c:       c,
		running: map[string]*podRuntime{},
		started: make(chan struct{}),
	}, nil
}

// Name returns the node's name.
func (w *Wasmlet) Name() string { return w.cfg.Name }

// Run registers the node, renews its lease and runs the pods bound to it
// until ctx ends. Then it stops every pod at once (use Drain first to stop
// them gracefully) and returns after every goroutine it started has ended.
// Pods keep their reported status, so a wasmlet started again on the same
// node takes them over. Run may be called once.
func (w *Wasmlet) Run(ctx context.Context) error {
	if w.runOnce.Swap(true) {
		return errors.New("wasmlet: Run called twice")
	}
	rt, err := sandbox.New(ctx, sandbox.Config{
		CompilationCacheDir: w.cfg.CompilationCacheDir,
		Logger:              w.log.With("component", "sandbox"),
	})
	if err != nil {
		return fmt.Errorf("wasmlet: start sandbox runtime: %w", err)
	}
	defer rt.Close(context.Background())
	w.rt = rt
	if w.modules, err = newModuleStore(w.c, filepath.Join(w.cfg.DataDir, "modules")); err != nil {
		return fmt.Errorf("wasmlet: %w", err)
	}
	if w.compiled, err = newCompiledCache(rt, w.cfg.CompiledCacheBytes); err != nil {
		return fmt.Errorf("wasmlet: %w", err)
	}
	defer w.compiled.close()
	w.pods, err = client.NewInformer(w.c, client.InformerOptions{
		Kind:          "Pod",
		FieldSelector: "spec.nodeName=" + w.cfg.Name,
		ResyncPeriod:  time.Minute,
		Logger:        w.log,
	})
	if err != nil {
		return fmt.Errorf("wasmlet: %w", err)
	}
	w.queue = client.NewQueue[string](client.QueueOptions{BaseDelay: 100 * time.Millisecond, MaxDelay: 30 * time.Second})
	w.statusQueue = client.NewQueue[string](client.QueueOptions{BaseDelay: 50 * time.Millisecond, MaxDelay: 10 * time.Second})
	w.pods.AddHandler(client.Handler{
		OnAdd:    w.enqueue,
		OnUpdate: func(_, o *waskv1.Object) { w.enqueue(o) },
		OnDelete: w.enqueue,
	})

	api, err := w.listenAPI()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait()
	}()
	if api != nil {
		wg.Go(func() { api.serve(ctx) })
	}
	if err := w.waitRegistered(ctx); err != nil || ctx.Err() != nil {
		return err // stopped before it started: not an error
	}
	if err := w.renewLeaseOnce(ctx); err != nil {
		w.log.Warn("first lease renewal", "err", err)
	}
	close(w.started)
	w.log.Info("node registered", "api", w.apiAddr)

	wg.Go(func() { w.renewLease(ctx) })
	wg.Go(func() { w.pods.Run(ctx) })
	var workers sync.WaitGroup
	for range w.cfg.SyncWorkers {
		workers.Go(func() { w.syncWorker(ctx) })
	}
	var statusWorkers sync.WaitGroup
	for range w.cfg.StatusWorkers {
		statusWorkers.Go(func() { w.statusWorker(ctx) })
	}
	<-ctx.Done()

	// Stop: no new syncs, every pod stopped at once, then the rest.
	w.queue.ShutDown()
	workers.Wait()
	w.mu.Lock()
	for _, p := range w.running {
		p.kill()
	}
	w.mu.Unlock()
	w.podWG.Wait()
	w.statusQueue.ShutDown()
	statusWorkers.Wait()
	return nil
}

// waitRegistered registers the node, retrying with back-off while the
// apiserver cannot be reached, until ctx ends.
func (w *Wasmlet) waitRegistered(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := w.registerNode(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return nil // stopped before it started: not an error
		}
		delay := restartDelay(100*time.Millisecond, 5*time.Second, attempt)
		w.log.Warn("register node, retrying", "err", err, "retry", delay)
		if !sleepCtx(ctx, delay) {
			return nil
		}
	}
}

// WaitStarted blocks until Run has registered the node (true) or ctx ends
// (false).
func (w *Wasmlet) WaitStarted(ctx context.Context) bool {
	select {
	case <-w.started:
		return true
	case <-ctx.Done():
		return false
	}
}

// Drain stops the node's pods gracefully, as for a node shutdown: the
// node reports itself not Ready (reason "NodeShutdown"), starts no new
// pods, marks its pods not Ready so that traffic moves away, and stops each
// within its grace period (http pods finish in-flight requests) or until
// ctx ends, when the rest are stopped at once. Pods keep their phase: a
// wasmlet started again on this node runs them again. Call it before
// ending Run's context.
func (w *Wasmlet) Drain(ctx context.Context) error {
	select {
	case <-w.started:
	default:
		return errors.New("wasmlet: Drain before Run started")
	}
	w.draining.Store(true)
	if err := w.setNodeReady(ctx, false, "NodeShutdown", "the node is shutting down"); err != nil {
		w.log.Warn("drain: mark node not ready", "err", err)
	}
	w.mu.Lock()
	pods := make([]*podRuntime, 0, len(w.running))
	for _, p := range w.running {
		pods = append(pods, p)
	}
	w.mu.Unlock()
	for _, p := range pods {
		p.update(func(s *waskv1.PodStatus, now time.Time) {
			if s.Phase == PhaseRunning {
				setCondition(s, CondReady, false, "NodeShutdown", "the node is shutting down", now)
			}
		})
		p.drain(ctx)
	}
	for _, p := range pods {
		select {
		case <-p.done:
		case <-ctx.Done():
			for _, p := range pods {
				p.kill()
			}
			return ctx.Err()
		}
	}
	return nil
}
