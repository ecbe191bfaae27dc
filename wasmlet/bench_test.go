package wasmlet_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/testcluster"
)

// runningWatcher reports when pods first reach phase Running.
type runningWatcher struct {
	mu      sync.Mutex
	waiters map[string]chan time.Time
}

func watchRunning(b *testing.B, c *testcluster.Cluster) *runningWatcher {
	rw := &runningWatcher{waiters: map[string]chan time.Time{}}
	inf, err := client.NewInformer(c.Client, client.InformerOptions{Kind: "Pod", FieldSelector: "status.phase=Running"})
	if err != nil {
		b.Fatal(err)
	}
	inf.AddHandler(client.Handler{OnAdd: func(o *waskv1.Object) {
		now := time.Now()
		rw.mu.Lock()
		ch := rw.waiters[o.Metadata().GetName()]
		rw.mu.Unlock()
		if ch != nil {
			select {
			case ch <- now:
			default:
			}
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { inf.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	if err := inf.WaitForSync(ctx); err != nil {
		b.Fatal(err)
	}
	return rw
}

func (rw *runningWatcher) expect(name string) chan time.Time {
	ch := make(chan time.Time, 1)
	rw.mu.Lock()
	rw.waiters[name] = ch
	rw.mu.Unlock()
	return ch
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkPodBoundToRunning measures the time from the Bind of a pod to
// this node until a watcher sees it Running, with the module compiled.
func BenchmarkPodBoundToRunning(b *testing.B) {
	for _, sampleName := range []string{"tiny", "echo"} {
		b.Run(sampleName, func(b *testing.B) {
			c := testcluster.Start(b, testcluster.Options{})
			node := c.AddNode(b, testcluster.NodeOptions{Name: "n1"})
			digest := c.PushModule(b, sampleName, sample(b, sampleName))
			rw := watchRunning(b, c)
			ctx := context.Background()
			run := func(name string) time.Duration {
				_, err := client.Create(ctx, c.Client, &waskv1.Pod{
					Metadata: &waskv1.ObjectMeta{Name: name},
					Spec:     &waskv1.PodSpec{Module: digest, Mode: "http-reactor"},
				})
				if err != nil {
					b.Fatal(err)
				}
				ch := rw.expect(name)
				bound := time.Now()
				resp, err := c.Client.Objects.Bind(ctx, connect.NewRequest(&waskv1.BindRequest{Bindings: []*waskv1.Binding{{Namespace: "default", Name: name, NodeName: node.Name}}}))
				if err != nil || resp.Msg.GetResults()[0].GetCode() != "" {
					b.Fatalf("bind: %v %v", err, resp.Msg.GetResults())
				}
				select {
				case at := <-ch:
					return at.Sub(bound)
				case <-time.After(30 * time.Second):
					b.Fatalf("pod %s not Running within 30s", name)
				}
				return 0
			}
			run("warm") // compiles the module
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				lat = append(lat, run("p"+strconv.Itoa(i)))
			}
			b.StopTimer()
			b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
		})
	}
}

// TestIdlePodDensity runs WASK_DENSITY_PODS (default: skipped) idle echo
// pods on one node and reports the memory each costs the node beyond the
// shared compiled module: the heap grown between all pods existing
// unbound (so the apiserver and store already hold them) and all of them
// Running on the node.
func TestIdlePodDensity(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WASK_DENSITY_PODS"))
	if n <= 0 {
		t.Skip("set WASK_DENSITY_PODS=10000 to measure")
	}
	c := testcluster.Start(t, testcluster.Options{})
	node := c.AddNode(t, testcluster.NodeOptions{Name: "n1"})
	digest := c.PushModule(t, "echo", sample(t, "echo"))
	ctx := context.Background()
	parallel(t, n, func(i int) error {
		_, err := client.Create(ctx, c.Client, &waskv1.Pod{
			Metadata: &waskv1.ObjectMeta{Name: fmt.Sprintf("echo-%05d", i)},
			Spec:     &waskv1.PodSpec{Module: digest, Mode: "http-reactor"},
		})
		return err
	})
	// One pod first, so the compiled module is not counted per pod.
	bind := func(from, to int) {
		var bs []*waskv1.Binding
		for i := from; i < to; i++ {
			bs = append(bs, &waskv1.Binding{Namespace: "default", Name: fmt.Sprintf("echo-%05d", i), NodeName: node.Name})
		}
		for len(bs) > 0 {
			k := min(len(bs), 1000)
			if _, err := c.Client.Objects.Bind(ctx, connect.NewRequest(&waskv1.BindRequest{Bindings: bs[:k]})); err != nil {
				t.Fatal(err)
			}
			bs = bs[k:]
		}
	}
	waitActive := func(want int) {
		deadline := time.Now().Add(10 * time.Minute)
		for node.Stats().Serving < want {
			if time.Now().After(deadline) {
				t.Fatalf("only %d of %d pods serving", node.Stats().Serving, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	bind(0, 1)
	waitActive(1)
	before := heapInUse()
	start := time.Now()
	bind(1, n)
	waitActive(n)
	elapsed := time.Since(start)
	after := heapInUse()
	per := float64(after-before) / float64(n-1)
	s := node.Stats()
	t.Logf("%d idle echo pods: %.1f KiB each beyond the shared module (heap %d → %d MiB); all serving in %s; %+v",
		n, per/1024, before>>20, after>>20, elapsed.Round(time.Millisecond), s)
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// parallel runs f(0..n-1) on 32 goroutines, failing on the first error.
func parallel(t testing.TB, n int, f func(i int) error) {
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	next := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

// BenchmarkInvoke measures one request through Wasmlet.Invoke to a warm
// http-reactor pod (the meshproxy's in-process path), reporting p50/p99.
func BenchmarkInvoke(b *testing.B) {
	for _, sampleName := range []string{"tiny", "echo"} {
		b.Run(sampleName, func(b *testing.B) {
			c := testcluster.Start(b, testcluster.Options{})
			node := c.AddNode(b, testcluster.NodeOptions{Name: "n1"})
			digest := c.PushModule(b, sampleName, sample(b, sampleName))
			rw := watchRunning(b, c)
			ch := rw.expect("web")
			_, err := client.Create(context.Background(), c.Client, &waskv1.Pod{
				Metadata: &waskv1.ObjectMeta{Name: "web"},
				Spec:     &waskv1.PodSpec{Module: digest, Mode: "http-reactor", NodeName: node.Name},
			})
			if err != nil {
				b.Fatal(err)
			}
			select {
			case <-ch:
			case <-time.After(2 * time.Minute):
				b.Fatal("pod not Running")
			}
			ctx := context.Background()
			invoke := func() time.Duration {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, "/hello", nil)
				start := time.Now()
				node.Invoke(ctx, "default", "web", rec, req)
				d := time.Since(start)
				if rec.Code != 200 {
					b.Fatalf("invoke: %d %s", rec.Code, rec.Body)
				}
				return d
			}
			invoke() // warms an instance
			var lat []time.Duration
			for b.Loop() {
				lat = append(lat, invoke())
			}
			b.ReportMetric(float64(percentile(lat, 0.5).Nanoseconds())/1000, "p50-µs")
			b.ReportMetric(float64(percentile(lat, 0.99).Nanoseconds())/1000, "p99-µs")
		})
	}
}
