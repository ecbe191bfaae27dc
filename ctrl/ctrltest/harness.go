package ctrltest

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"

	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
)

// Options say what a Harness runs.
type Options struct {
	// Controllers to run, made from the harness's Env.
	Controllers []func(env *ctrl.Env) ctrl.Runnable
	// Nodes to simulate (Client is filled in).
	Nodes []NodeConfig
	// Binder runs the stand-in scheduler.
	Binder bool
}

// Harness runs controllers, simulated nodes and a binder against a real
// apiserver for one test; everything stops when the test ends.
type Harness struct {
	T        testing.TB
	Admin    *client.Client
	Env      *ctrl.Env
	Registry *prometheus.Registry

	nodeClient func(name string) *client.Client
	mu         sync.Mutex
	nodes      map[string]*Node
	cancels    map[string]context.CancelFunc
	wg         sync.WaitGroup
	ctx        context.Context
}

// Start starts what opts say. admin is an admin client; nodeClient returns
// a client acting as the named node.
func Start(t testing.TB, admin *client.Client, nodeClient func(name string) *client.Client, opts Options) *Harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewRegistry()
	m, err := ctrl.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var log *slog.Logger
	if os.Getenv("WASK_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h := &Harness{T: t, Admin: admin, Env: ctrl.NewEnv(admin, log, m, nil), Registry: reg, nodeClient: nodeClient,
		nodes: map[string]*Node{}, cancels: map[string]context.CancelFunc{}, ctx: ctx}
	t.Cleanup(func() {
		cancel()
		h.wg.Wait()
	})
	if err := Prepare(ctx, admin); err != nil {
		t.Fatal(err)
	}
	var runs []ctrl.Runnable
	for _, mk := range opts.Controllers {
		runs = append(runs, mk(h.Env))
	}
	h.wg.Go(func() { _ = h.Env.Informers.Run(ctx) })
	if err := h.Env.Informers.WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		h.wg.Go(func() {
			if err := r.Run(ctx); err != nil {
				t.Errorf("controller: %v", err)
			}
		})
	}
	for _, nc := range opts.Nodes {
		h.AddNode(nc)
	}
	if opts.Binder {
		h.wg.Go(func() { _ = (&Binder{Client: admin}).Run(ctx) })
	}
	return h
}

// AddNode starts a simulated node.
func (h *Harness) AddNode(nc NodeConfig) *Node {
	if nc.Client == nil {
		nc.Client = h.nodeClient(nc.Name)
	}
	n := NewNode(nc)
	nctx, cancel := context.WithCancel(h.ctx)
	h.mu.Lock()
	h.nodes[nc.Name], h.cancels[nc.Name] = n, cancel
	h.mu.Unlock()
	h.wg.Go(func() {
		if err := n.Run(nctx); err != nil && nctx.Err() == nil {
			h.T.Errorf("node %s: %v", nc.Name, err)
		}
	})
	return n
}

// Node returns a simulated node by name.
func (h *Harness) Node(name string) *Node {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nodes[name]
}

// KillNode stops a simulated node at once, as a crash would.
func (h *Harness) KillNode(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cancels[name]()
}

// Eventually waits until cond holds, failing the test after timeout with
// the last state cond described.
func (h *Harness) Eventually(timeout time.Duration, cond func(ctx context.Context) (bool, string)) {
	h.T.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, timeout)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	var last string
	for {
		ok, state := cond(ctx)
		if ok {
			return
		}
		if ctx.Err() == nil {
			last = state
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			h.T.Fatalf("condition not met within %v: %s", timeout, last)
		}
	}
}

// Ctx is a context that ends with the test.
func (h *Harness) Ctx() context.Context { return h.ctx }

// Module is a module digest for test pods (no module with it need exist:
// nothing runs it).
const Module = "sha256:0000000000000000000000000000000000000000000000000000000000000001"

// Template returns a pod template of an http-reactor pod labelled labels.
func Template(labels map[string]string) *waskv1.PodTemplateSpec {
	return &waskv1.PodTemplateSpec{
		Metadata: &waskv1.ObjectMeta{Labels: labels},
		Spec:     &waskv1.PodSpec{Module: Module, Mode: "http-reactor", TerminationGracePeriod: "1s"},
	}
}

// Pods lists the pods of a namespace with a label selector, from the
// apiserver (not a cache).
func (h *Harness) Pods(ctx context.Context, namespace, selector string) []*waskv1.Pod {
	h.T.Helper()
	pods, _, err := client.List[*waskv1.Pod](ctx, h.Admin, client.ListOptions{Namespace: namespace, LabelSelector: selector})
	if err != nil {
		h.T.Fatalf("list pods: %v", err)
	}
	return pods
}
