package sched

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

// Options configure a Scheduler.
type Options struct {
	// Client reaches the apiserver; required. It needs to read pods, nodes
	// and modules, bind pods, write pod status, delete pods (preemption)
	// and write events: an admin client.
	Client *client.Client
	// Config selects the plugins and tunes the loop; see Config.
	Config Config
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Registry gets the scheduler's metrics; nil: not registered.
	Registry prometheus.Registerer
	// Now is the clock; default time.Now.
	Now func() time.Time
	// BindWorkers is how many Bind calls may be in flight at once. Default 4.
	BindWorkers int
	// ReportWorkers is how many goroutines write failure reports (pod
	// status, events) and preemption deletes. Default 2.
	ReportWorkers int
	// LeaderElection, if set, makes this scheduler schedule only while it
	// holds a Lease, so that several may run for availability while one
	// schedules. Nil: it always schedules.
	LeaderElection *LeaderElection
}

// Scheduler places the cluster's unbound pods. Make one with New and run
// it with Run.
type Scheduler struct {
	opts    Options
	fw      *Framework
	log     *slog.Logger
	metrics *metrics

	mu   sync.Mutex // guards snap
	snap *Snapshot

	elector  *elector
	queue    *queue
	binds    chan bindRequest
	reports  *client.Queue[string]
	pendingR sync.Map // pod key → *report
	leading  atomic.Bool
}

// New checks opts and builds a scheduler.
func New(opts Options) (*Scheduler, error) {
	if opts.Client == nil {
		return nil, errors.New("scheduler: Options.Client: required")
	}
	fw, err := NewFramework(opts.Config)
	if err != nil {
		return nil, err
	}
	opts.Config = opts.Config.withDefaults()
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BindWorkers <= 0 {
		opts.BindWorkers = 4
	}
	if opts.ReportWorkers <= 0 {
		opts.ReportWorkers = 2
	}
	s := &Scheduler{
		opts: opts, fw: fw, log: opts.Logger, snap: fw.NewSnapshot(),
		queue:   newQueue(opts.Config.InitialBackoff, opts.Config.MaxBackoff, opts.Now),
		binds:   make(chan bindRequest, 4*opts.Config.BindBatchSize),
		reports: client.NewQueue[string](client.QueueOptions{BaseDelay: 100 * time.Millisecond, MaxDelay: 10 * time.Second}),
	}
	if opts.LeaderElection != nil {
		le, err := opts.LeaderElection.withDefaults()
		if err != nil {
			return nil, err
		}
		s.elector = &elector{le: le, c: opts.Client, now: opts.Now}
	}
	s.metrics, err = newMetrics(opts.Registry, s.queue)
	if err != nil {
		return nil, fmt.Errorf("scheduler: register metrics: %w", err)
	}
	return s, nil
}

// Framework returns the scheduler's plugin framework.
func (s *Scheduler) Framework() *Framework { return s.fw }

// Run schedules until ctx ends, then returns nil after every goroutine it
// started has ended. It fails only if its informers cannot be built.
func (s *Scheduler) Run(ctx context.Context) error {
	pods, err := s.informer("Pod", client.Handler{
		OnAdd:    func(o *waskv1.Object) { s.onPod(nil, o.GetPod()) },
		OnUpdate: func(old, o *waskv1.Object) { s.onPod(old.GetPod(), o.GetPod()) },
		OnDelete: func(o *waskv1.Object) { s.onPodDelete(o.GetPod()) },
	})
	if err != nil {
		return err
	}
	nodes, err := s.informer("Node", client.Handler{
		OnAdd:    func(o *waskv1.Object) { s.onNode(nil, o.GetNode()) },
		OnUpdate: func(old, o *waskv1.Object) { s.onNode(old.GetNode(), o.GetNode()) },
		OnDelete: func(o *waskv1.Object) { s.onNodeDelete(o.GetNode()) },
	})
	if err != nil {
		return err
	}
	modules, err := s.informer("Module", client.Handler{
		OnAdd:    func(o *waskv1.Object) { s.onModule(o.GetModule(), false) },
		OnUpdate: func(_, o *waskv1.Object) { s.onModule(o.GetModule(), false) },
		OnDelete: func(o *waskv1.Object) { s.onModule(o.GetModule(), true) },
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, inf := range []*client.Informer{nodes, modules, pods} {
		wg.Go(func() { inf.Run(ctx) })
	}
	for range s.opts.ReportWorkers {
		wg.Go(func() { s.runReports(ctx) })
	}
	wg.Go(func() { s.runBinder(ctx) })
	wg.Go(func() {
		<-ctx.Done()
		s.queue.Close()
		s.reports.ShutDown()
	})
	// Schedule only once nodes and modules are known, or every pod would
	// be reported unschedulable at start.
	for _, inf := range []*client.Informer{nodes, modules, pods} {
		if inf.WaitForSync(ctx) != nil {
			break
		}
	}
	if ctx.Err() == nil {
		s.log.Info("scheduler started", "nodes", len(nodes.List()), "modules", len(modules.List()))
		if s.elector == nil {
			s.runScheduling(ctx)
		} else {
			s.runLeading(ctx)
		}
	}
	cancel()
	wg.Wait()
	return nil
}

// runLeading schedules while this scheduler holds the lease, and waits for
// it otherwise, until ctx ends.
func (s *Scheduler) runLeading(ctx context.Context) {
	for s.elector.lead(ctx) {
		s.log.Info("scheduler: leading", "lease", s.elector.le.Namespace+"/"+s.elector.le.Name, "identity", s.elector.le.Identity)
		s.leading.Store(true)
		lctx, lcancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.runScheduling(lctx)
		}()
		s.elector.hold(ctx)
		lcancel()
		<-done
		s.leading.Store(false)
		if ctx.Err() != nil {
			s.elector.release()
			return
		}
		s.log.Warn("scheduler: lost the lease, stopped scheduling")
	}
}

// Leading reports whether the scheduler is scheduling now (always true
// after start without leader election).
func (s *Scheduler) Leading() bool { return s.elector == nil || s.leading.Load() }

func (s *Scheduler) informer(kind string, h client.Handler) (*client.Informer, error) {
	inf, err := client.NewInformer(s.opts.Client, client.InformerOptions{Kind: kind, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	inf.AddHandler(h)
	return inf, nil
}
