package apiserver_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/testcluster"
)

// The benchmarks below back the figures in README.md. Each starts a whole
// control plane with internal/testcluster: a real store in b.TempDir() with
// synced writes and a real apiserver serving TLS on loopback with bearer
// tokens, called through the real client. Reproduce with
//
//	go test ./apiserver/ -run '^$' -bench . -benchtime 3s -count 1
//
// Each also runs quickly with -benchtime=1x (a smoke test); only
// BenchmarkList10kPods always pays its setup of 10,000 pods (a few seconds).

// benchDigest is the module of every benchmark pod.
const benchDigest = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// benchPod is a valid minimal pod.
func benchPod(name string) *waskv1.Pod {
	return &waskv1.Pod{
		Metadata: &waskv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:     &waskv1.PodSpec{Module: benchDigest, Mode: "command"},
	}
}

// benchPercentileMs returns the p-th percentile (nearest rank, 0 < p ≤ 100)
// of sorted in milliseconds.
func benchPercentileMs(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}

// reportLatencies sorts lat and reports its p50 and p99 as prefix+"p50-ms"
// and prefix+"p99-ms".
func reportLatencies(b *testing.B, prefix string, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(benchPercentileMs(lat, 50), prefix+"p50-ms")
	b.ReportMetric(benchPercentileMs(lat, 99), prefix+"p99-ms")
}

// reportCPU reports the process CPU used since start per op.
func reportCPU(b *testing.B, start time.Duration, ops int) {
	b.ReportMetric(float64(processCPU(b)-start)/float64(time.Millisecond)/float64(ops), "cpu-ms/op")
}

// benchClients returns n admin clients of c: c.Client first, then new ones
// (each with its own http.Transport, so its own HTTP/2 connection).
func benchClients(b *testing.B, c *testcluster.Cluster, n int) []*client.Client {
	cls := []*client.Client{c.Client}
	for len(cls) < n {
		cls = append(cls, c.NewClient(b, c.ClientConfig()))
	}
	return cls
}

// benchClientsWith returns n new admin clients of c made with opts.
func benchClientsWith(b *testing.B, c *testcluster.Cluster, n int, opts ...connect.ClientOption) []*client.Client {
	if len(opts) == 0 {
		return benchClients(b, c, n)
	}
	var cls []*client.Client
	for range n {
		cl, err := client.New(c.ClientConfig(), opts...)
		if err != nil {
			b.Fatal(err)
		}
		cls = append(cls, cl)
	}
	return cls
}

// createPods creates the pods named prefix-0 … prefix-(total-1) from
// workers goroutines, goroutine g using cls[g%len(cls)], and returns the
// wall time and every create's latency.
func createPods(ctx context.Context, cls []*client.Client, workers, total int, prefix string) (time.Duration, []time.Duration, error) {
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		mu      sync.Mutex
		all     = make([]time.Duration, 0, total)
		errOnce sync.Once
		first   error
		failed  atomic.Bool
	)
	start := time.Now()
	for g := range workers {
		cl := cls[g%len(cls)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, total/workers+1)
			defer func() {
				mu.Lock()
				all = append(all, lat...)
				mu.Unlock()
			}()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				t0 := time.Now()
				if _, err := client.Create(ctx, cl, benchPod(fmt.Sprintf("%s-%d", prefix, i))); err != nil {
					errOnce.Do(func() { first = fmt.Errorf("create %s-%d: %w", prefix, i, err) })
					failed.Store(true)
					return
				}
				lat = append(lat, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	return time.Since(start), all, first
}

// warmUp makes every client open its connection (TLS handshake) before the
// timed part.
func warmUp(b *testing.B, ctx context.Context, cls []*client.Client) {
	b.Helper()
	for _, cl := range cls {
		if _, err := client.Get[*waskv1.Pod](ctx, cl, "default", "warm-up"); connect.CodeOf(err) != connect.CodeNotFound {
			b.Fatalf("warm-up get: %v", err)
		}
	}
}

// BenchmarkCreatePod creates pods over loopback TLS, one op per pod.
//
//   - clients=1: one goroutine, sequential creates; p50/p99 per create.
//   - clients=64/conns=1: 64 goroutines sharing one client (so one HTTP/2
//     connection: 64 streams are under the server's 250 per connection).
//   - clients=64/conns=8: 64 goroutines over 8 clients (8 connections).
func BenchmarkCreatePod(b *testing.B) {
	b.Run("clients=1", func(b *testing.B) {
		c := testcluster.Start(b, testcluster.Options{})
		ctx := b.Context()
		warmUp(b, ctx, []*client.Client{c.Client})
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			t0 := time.Now()
			if _, err := client.Create(ctx, c.Client, benchPod(fmt.Sprintf("p-%d", i))); err != nil {
				b.Fatalf("create: %v", err)
			}
			lat = append(lat, time.Since(t0))
		}
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "creates/s")
		reportLatencies(b, "", lat)
	})
	for _, conns := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=64/conns=%d", conns), func(b *testing.B) {
			c := testcluster.Start(b, testcluster.Options{})
			ctx := b.Context()
			cls := benchClients(b, c, conns)
			warmUp(b, ctx, cls)
			b.ResetTimer()
			elapsed, lat, err := createPods(ctx, cls, 64, b.N, "p")
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "creates/s")
			reportLatencies(b, "", lat)
		})
	}
}

// watchFanoutClients is how many clients (HTTP/2 connections) carry the
// 1,000 watches: 100 streams each, under the server's default of 250
// concurrent streams per connection.
const (
	watchFanoutWatchers = 1000
	watchFanoutClients  = 10
)

// BenchmarkWatchFanout1000 opens 1,000 Watch streams (kind Pod, all
// namespaces) and, per op, creates one pod and waits until every watcher
// got its ADDED event. It reports the delivery latency, over all
// deliveries, measured from just before the Create call (p50-ms, p99-ms)
// and from its return (ret-p50-ms, ret-p99-ms; an event may arrive before
// the Create response, which counts as 0).
//
//   - gzip=on: the client as it is (it accepts gzip, so the server
//     gzips every event of every stream).
//   - gzip=off: the watchers' clients do not accept gzip (an experiment
//     that shows what compression costs; see README.md).
func BenchmarkWatchFanout1000(b *testing.B) {
	b.Run("gzip=on", func(b *testing.B) { benchWatchFanout(b) })
	b.Run("gzip=off", func(b *testing.B) { benchWatchFanout(b, noGzip) })
}

// noGzip makes a client not accept gzip-compressed responses.
var noGzip = connect.WithAcceptCompression("gzip", nil, nil)

func benchWatchFanout(b *testing.B, opts ...connect.ClientOption) {
	c := testcluster.Start(b, testcluster.Options{})
	ctx, cancel := context.WithCancel(b.Context())
	cls := benchClientsWith(b, c, watchFanoutClients, opts...)
	warmUp(b, ctx, cls)

	// A round is one created pod: each watcher stamps its slot, and the
	// last one to see the pod ends the round. (Not a channel of
	// deliveries: 1,000 sends to one collector per change would cost the
	// 2 cores more than the deliveries measured.)
	type round struct {
		name string
		at   []time.Time
		left atomic.Int64
		done chan struct{}
	}
	var cur atomic.Pointer[round]
	var wg sync.WaitGroup
	errc := make(chan error, watchFanoutWatchers)
	defer func() {
		cancel()
		wg.Wait()
	}()
	for w := range watchFanoutWatchers {
		stream, err := cls[w%len(cls)].Objects.Watch(ctx, connect.NewRequest(&waskv1.WatchRequest{Kind: "Pod"}))
		if err != nil {
			b.Fatalf("watch %d: %v", w, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer stream.Close()
			for stream.Receive() {
				ev := stream.Msg()
				if ev.GetType() != "ADDED" {
					continue
				}
				at := time.Now()
				r := cur.Load()
				if name := ev.GetObject().GetPod().GetMetadata().GetName(); r == nil || name != r.name {
					errc <- fmt.Errorf("watcher %d got ADDED %s out of its round", w, name)
					return
				}
				r.at[w] = at
				if r.left.Add(-1) == 0 {
					close(r.done)
				}
			}
			if ctx.Err() == nil {
				errc <- fmt.Errorf("watch %d ended: %v", w, stream.Err())
			}
		}()
	}
	// create creates pod name and waits for its 1,000 deliveries; it
	// returns the time before the call, the time it returned, and the
	// deliveries' times.
	create := func(name string) (time.Time, time.Time, []time.Time) {
		r := &round{name: name, at: make([]time.Time, watchFanoutWatchers), done: make(chan struct{})}
		r.left.Store(watchFanoutWatchers)
		cur.Store(r)
		t0 := time.Now()
		if _, err := client.Create(ctx, c.Client, benchPod(name)); err != nil {
			b.Fatalf("create %s: %v", name, err)
		}
		t1 := time.Now()
		timeout := time.NewTimer(30 * time.Second)
		defer timeout.Stop()
		select {
		case <-r.done:
		case err := <-errc:
			b.Fatal(err)
		case <-timeout.C:
			b.Fatalf("%s: %d of %d watchers got it after 30 s", name, watchFanoutWatchers-r.left.Load(), watchFanoutWatchers)
		}
		return t0, t1, r.at
	}
	// The first event proves every watch is established (the Watch call
	// may return before the server has registered the watch).
	create("warm-up")

	fromCall := make([]time.Duration, 0, b.N*watchFanoutWatchers)
	fromReturn := make([]time.Duration, 0, b.N*watchFanoutWatchers)
	i := 0
	cpu := processCPU(b)
	for b.Loop() {
		t0, t1, at := create(fmt.Sprintf("p-%d", i))
		i++
		for _, a := range at {
			fromCall = append(fromCall, a.Sub(t0))
			fromReturn = append(fromReturn, max(0, a.Sub(t1)))
		}
	}
	reportCPU(b, cpu, i)
	reportLatencies(b, "", fromCall)
	reportLatencies(b, "ret-", fromReturn)
}

// list10kPods is the number of pods BenchmarkList10kPods lists.
const list10kPods = 10_000

// BenchmarkList10kPods creates 10,000 pods once (64 goroutines over 8
// clients; not timed) and then lists all of them per op through
// client.List: with its default page size of 500 (20 requests), and in
// one request (PageSize 10,000); each with the client as it is (it accepts
// gzip, so the server gzips each response) and with a client that does not
// accept gzip (gzip=off: an experiment that shows what compression costs).
func BenchmarkList10kPods(b *testing.B) {
	c := testcluster.Start(b, testcluster.Options{})
	ctx := b.Context()
	cls := benchClients(b, c, 8)
	setup, _, err := createPods(ctx, cls, 64, list10kPods, "p")
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("setup: %d pods created in %v", list10kPods, setup.Round(time.Millisecond))
	noGzipClient := benchClientsWith(b, c, 1, noGzip)[0]
	warmUp(b, ctx, []*client.Client{noGzipClient})
	for _, gzip := range []bool{true, false} {
		for _, pageSize := range []int64{0, list10kPods} {
			name := fmt.Sprintf("pageSize=%d", pageSize)
			if pageSize == 0 {
				name = "pageSize=500"
			}
			cl := c.Client
			if gzip {
				name += "/gzip=on"
			} else {
				name += "/gzip=off"
				cl = noGzipClient
			}
			b.Run(name, func(b *testing.B) {
				lat := make([]time.Duration, 0, 64)
				cpu := processCPU(b)
				for b.Loop() {
					t0 := time.Now()
					pods, _, err := client.List[*waskv1.Pod](ctx, cl, client.ListOptions{PageSize: pageSize})
					lat = append(lat, time.Since(t0))
					if err != nil {
						b.Fatalf("list: %v", err)
					}
					if len(pods) != list10kPods {
						b.Fatalf("list: got %d pods, want %d", len(pods), list10kPods)
					}
				}
				reportCPU(b, cpu, len(lat))
				reportLatencies(b, "", lat)
			})
		}
	}
}
