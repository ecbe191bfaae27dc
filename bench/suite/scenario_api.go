package suite

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

func init() {
	register(Scenario{Name: "api", Doc: "pod creates, gets, lists and watch deliveries through the apiserver (TLS, loopback) at rising concurrency", Run: runAPI})
}

func benchPod(name string) *waskv1.Pod {
	return &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "api"}},
		Spec: &waskv1.PodSpec{Module: "sha256:" + fmt.Sprintf("%064d", 0), Mode: "command"}}
}

func runAPI(ctx context.Context, env *Env) error {
	cl, err := startCluster(ctx, env) // the control plane alone: nothing runs the pods
	if err != nil {
		return err
	}
	defer cl.close()
	var seq atomic.Int64
	var created []string
	var mu sync.Mutex
	for _, conc := range []int{1, 8, 64} {
		n := env.Quick(50, 700) // 5 rounds × 3 cases: the list case lists ~10,500 pods
		if err := env.Compare(ctx, &Case{Name: fmt.Sprintf("create pod, %d clients", conc), Group: "create", Concurrency: conc},
			Contender{"wask apiserver", func(ctx context.Context) (Sample, error) {
				return Closed(ctx, conc, n, func(ctx context.Context, _, _ int) error {
					name := fmt.Sprintf("api-%d", seq.Add(1))
					_, err := client.Create(ctx, cl.client, benchPod(name))
					mu.Lock()
					created = append(created, name)
					mu.Unlock()
					return err
				})
			}}); err != nil {
			return err
		}
	}
	for _, conc := range []int{1, 8, 64} {
		n := env.Quick(50, 2000*min(conc, 8))
		if err := env.Compare(ctx, &Case{Name: fmt.Sprintf("get pod, %d clients", conc), Group: "get", Concurrency: conc},
			Contender{"wask apiserver", func(ctx context.Context) (Sample, error) {
				return Closed(ctx, conc, n, func(ctx context.Context, _, i int) error {
					_, err := client.Get[*waskv1.Pod](ctx, cl.client, "default", created[i%len(created)])
					return err
				})
			}}); err != nil {
			return err
		}
	}
	total := len(created)
	if err := env.Compare(ctx, &Case{Name: fmt.Sprintf("list of %d pods (pages of 500)", total)},
		Contender{"wask apiserver", func(ctx context.Context) (Sample, error) {
			return Closed(ctx, 1, env.Quick(2, 10), func(ctx context.Context, _, _ int) error {
				pods, _, err := client.List[*waskv1.Pod](ctx, cl.client, client.ListOptions{Namespace: "default"})
				if err == nil && len(pods) < total {
					err = fmt.Errorf("listed %d pods, want %d", len(pods), total)
				}
				return err
			})
		}}); err != nil {
		return err
	}
	watchers := env.Quick(20, 200)
	if err := env.Compare(ctx, &Case{Name: fmt.Sprintf("watch: a create delivered to %d watch streams", watchers)},
		Contender{"wask apiserver", func(ctx context.Context) (Sample, error) {
			return apiWatchFanout(ctx, cl.client, watchers, env.Quick(3, 20), &seq)
		}}); err != nil {
		return err
	}
	env.Report.Note("The apiserver is a wask server process (TLS on loopback, bearer token, a synced Pebble store); the clients are in the bench process, one HTTP/2 connection shared by all. These figures have no peer here: see the store scenario for the store underneath.")
	return nil
}

// apiWatchFanout opens watchers Watch streams on pods labelled bench=watch,
// creates events pods one at a time, and times each delivery from the
// create's start.
func apiWatchFanout(ctx context.Context, c *client.Client, watchers, events int, seq *atomic.Int64) (Sample, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	starts := map[string]time.Time{}
	var lat []time.Duration
	var wg sync.WaitGroup
	// Watching from a listed revision delivers every later create, however
	// long a stream takes to register.
	_, rev, err := client.List[*waskv1.Pod](ctx, c, client.ListOptions{Namespace: "default", LabelSelector: "bench=watch"})
	if err != nil {
		return Sample{}, err
	}
	opened := make(chan error, watchers)
	for range watchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream, err := c.Objects.Watch(ctx, connect.NewRequest(&waskv1.WatchRequest{Kind: "Pod", Namespace: "default", LabelSelector: "bench=watch", Revision: rev}))
			opened <- err
			if err != nil {
				return
			}
			defer stream.Close()
			for got := 0; got < events && stream.Receive(); {
				ev := stream.Msg()
				if ev.GetType() != "ADDED" {
					continue
				}
				now := time.Now()
				mu.Lock()
				lat = append(lat, now.Sub(starts[ev.GetObject().GetPod().GetMetadata().GetName()]))
				mu.Unlock()
				got++
			}
		}()
	}
	for range watchers {
		if err := <-opened; err != nil {
			return Sample{}, err
		}
	}
	begin := time.Now()
	for range events {
		name := fmt.Sprintf("watch-%d", seq.Add(1))
		p := benchPod(name)
		p.Metadata.Labels = map[string]string{"bench": "watch"}
		mu.Lock()
		starts[name] = time.Now()
		mu.Unlock()
		if _, err := client.Create(ctx, c, p); err != nil {
			return Sample{}, err
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		return Sample{}, fmt.Errorf("watchers did not get every event within a minute")
	}
	return Sample{Ops: events * watchers, Elapsed: time.Since(begin), Latencies: lat}, nil
}
