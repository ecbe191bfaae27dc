package deployment_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
	"github.com/wask-dev/wask/ctrl/ctrltest"
	"github.com/wask-dev/wask/ctrl/deployment"
	"github.com/wask-dev/wask/ctrl/replicaset"
	"github.com/wask-dev/wask/internal/testcluster"
	"github.com/wask-dev/wask/internal/testsched"
)

// podCounter counts a deployment's pods (not terminating) and those Ready.
type podCounter struct {
	mu      sync.Mutex
	pods    map[string]bool // key → ready
	changed chan struct{}
}

func countPods(b *testing.B, h *ctrltest.Harness, app string) *podCounter {
	pc := &podCounter{pods: map[string]bool{}, changed: make(chan struct{}, 1)}
	inf, err := client.NewInformer(h.Admin, client.InformerOptions{Kind: "Pod", Namespace: "default", LabelSelector: "app=" + app})
	if err != nil {
		b.Fatal(err)
	}
	set := func(o *waskv1.Object) {
		pc.mu.Lock()
		if ctrl.Terminating(o.Metadata()) {
			delete(pc.pods, client.Key(o))
		} else {
			pc.pods[client.Key(o)] = ctrl.PodReady(o.GetPod())
		}
		pc.mu.Unlock()
		select {
		case pc.changed <- struct{}{}:
		default:
		}
	}
	inf.AddHandler(client.Handler{OnAdd: set, OnUpdate: func(_, o *waskv1.Object) { set(o) }, OnDelete: func(o *waskv1.Object) {
		pc.mu.Lock()
		delete(pc.pods, client.Key(o))
		pc.mu.Unlock()
		select {
		case pc.changed <- struct{}{}:
		default:
		}
	}})
	ctx, cancel := context.WithCancel(h.Ctx())
	done := make(chan struct{})
	go func() { defer close(done); _ = inf.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	return pc
}

// wait blocks until cond(total, ready) holds.
func (pc *podCounter) wait(b *testing.B, cond func(total, ready int) bool) {
	deadline := time.After(60 * time.Second)
	for {
		pc.mu.Lock()
		total, ready := len(pc.pods), 0
		for _, r := range pc.pods {
			if r {
				ready++
			}
		}
		pc.mu.Unlock()
		if cond(total, ready) {
			return
		}
		select {
		case <-pc.changed:
		case <-deadline:
			b.Fatalf("not within 60s: %d pods, %d ready", total, ready)
		}
	}
}

// BenchmarkScaleTo1000 measures `wask scale deployment/bench --replicas
// 1000` from 0 through the real apiserver and store: until the 1,000 pods
// exist ("created"), and, with the stand-in scheduler and a simulated node
// that reports each bound pod Running and Ready ("ready-simulated"), until
// all are Ready. The real wasmlet and scheduler replace the simulations
// for the ≤ 3 s "Running" figure.
func BenchmarkScaleTo1000(b *testing.B) {
	for _, sim := range []bool{false, true} {
		name := "created"
		if sim {
			name = "ready-simulated"
		}
		b.Run(name, func(b *testing.B) {
			cl := testcluster.Start(b, testcluster.Options{})
			opts := ctrltest.Options{Controllers: []func(*ctrl.Env) ctrl.Runnable{
				func(env *ctrl.Env) ctrl.Runnable { return replicaset.New(env, replicaset.Options{}) },
				func(env *ctrl.Env) ctrl.Runnable { return deployment.New(env, deployment.Options{}) },
			}}
			if sim {
				opts.Nodes, opts.Binder = []ctrltest.NodeConfig{{Name: "n1"}}, true
			}
			h := ctrltest.Start(b, cl.Client, func(n string) *client.Client { return cl.NodeClient(b, n) }, opts)
			d := newDeployment("bench", 0)
			if _, err := client.Create(h.Ctx(), h.Admin, d); err != nil {
				b.Fatal(err)
			}
			benchScale(b, h, sim)
		})
	}
}

// BenchmarkScaleTo1000RealNode measures `wask scale deployment/bench
// --replicas 1000` from 0 to 1,000 pods Running and Ready on one real
// wasmlet, placed by the real scheduler: the replicaset and deployment
// controllers, the scheduler, the wasmlet and the apiserver share the
// process, as in `wask up`. The pods run the hand-written tiny reactor.
func BenchmarkScaleTo1000RealNode(b *testing.B) {
	cl := testcluster.Start(b, testcluster.Options{})
	wasm, err := os.ReadFile(filepath.Join("..", "..", "wasm-samples", "tiny", "tiny.wasm"))
	if err != nil {
		b.Fatal(err)
	}
	digest := cl.PushModule(b, "tiny", wasm)
	cl.AddNode(b, testcluster.NodeOptions{Name: "n1"})
	testsched.Start(b, cl.Client)
	h := ctrltest.Start(b, cl.Client, func(n string) *client.Client { return cl.NodeClient(b, n) }, ctrltest.Options{Controllers: []func(*ctrl.Env) ctrl.Runnable{
		func(env *ctrl.Env) ctrl.Runnable { return replicaset.New(env, replicaset.Options{}) },
		func(env *ctrl.Env) ctrl.Runnable { return deployment.New(env, deployment.Options{}) },
	}})
	d := newDeployment("bench", 0)
	d.Spec.Template.Spec.Module = digest
	if _, err := client.Create(h.Ctx(), h.Admin, d); err != nil {
		b.Fatal(err)
	}
	benchScale(b, h, true)
}

// benchScale scales Deployment "bench" from 0 to 1,000 replicas per op
// (timed) and back to 0 (not timed), until the 1,000 pods exist and, with
// ready, are all Ready; it reports the mean time per scale.
func benchScale(b *testing.B, h *ctrltest.Harness, ready bool) {
	pc := countPods(b, h, "bench")
	scale := func(n int32) {
		update(b, h, "bench", func(d *waskv1.Deployment) { d.Spec.Replicas = proto.Int32(n) })
	}
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		scale(1000)
		pc.wait(b, func(n, r int) bool { return n == 1000 && (!ready || r == 1000) })
		total += time.Since(start)
		b.StopTimer()
		scale(0)
		pc.wait(b, func(n, _ int) bool { return n == 0 })
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/scale")
}
