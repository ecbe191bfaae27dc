// Command storepeer runs one round of a store workload on a peer of wask's
// store, an embedded etcd (go.etcd.io/etcd/server/v3/embed, used through
// its in-process client) or raw Pebble, and prints what it measured as
// JSON: {"ops": N, "elapsed_ns": D, "latencies_ns": [...]}. The workloads
// match wask's bench/suite store scenario, which runs this once per round,
// interleaved with wask's own store.
//
//	storepeer -engine etcd -dir D puts -writers 8 -n 2000
//	storepeer -engine pebble -dir D list -keys 10000 -n 5
//	storepeer -engine etcd -dir D watch -watchers 1000 -n 20
//
// Every write is synced: etcd's WAL fsyncs per batch, Pebble writes with
// pebble.Sync. Raw Pebble has no watch.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"sort"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
)

type sample struct {
	Ops       int             `json:"ops"`
	Elapsed   time.Duration   `json:"elapsed_ns"`
	Latencies []time.Duration `json:"latencies_ns"`
}

func main() {
	log.SetFlags(0)
	engine := flag.String("engine", "etcd", "etcd or pebble")
	dir := flag.String("dir", "", "data directory (made fresh)")
	flag.Parse()
	if *dir == "" || flag.NArg() < 1 {
		log.Fatal("usage: storepeer [-engine etcd|pebble] -dir D puts|list|watch [flags]")
	}
	fs := flag.NewFlagSet(flag.Arg(0), flag.ExitOnError)
	writers := fs.Int("writers", 1, "concurrent writers (puts)")
	n := fs.Int("n", 1000, "operations: puts, lists, or watched events")
	keys := fs.Int("keys", 10000, "keys listed (list)")
	watchers := fs.Int("watchers", 1000, "watchers (watch)")
	value := fs.Int("value", 256, "value size in bytes")
	fs.Parse(flag.Args()[1:])

	os.RemoveAll(*dir)
	if *engine == "pebble" {
		json.NewEncoder(os.Stdout).Encode(runPebble(*dir, fs.Name(), *writers, *n, *keys, *value))
		return
	}
	cfg := embed.NewConfig()
	cfg.Dir = *dir
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.LogLevel = "error"
	// Loopback on ports the kernel picks: several peers may run.
	lc, _ := url.Parse("http://127.0.0.1:0")
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*lc}, []url.URL{*lc}
	lp, _ := url.Parse("http://127.0.0.1:0")
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*lp}, []url.URL{*lp}
	cfg.InitialCluster = cfg.Name + "=" + lp.String()
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		log.Fatalf("storepeer: start etcd: %v", err)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		log.Fatal("storepeer: etcd not ready within 60s")
	}
	c := v3client.New(e.Server) // in-process: no network between client and server
	defer c.Close()
	ctx := context.Background()
	val := string(make([]byte, *value))
	var s sample
	switch fs.Name() {
	case "puts":
		s = closed(*writers, *n, func(i int) error {
			_, err := c.Put(ctx, fmt.Sprintf("/bench/k%08d", i), val)
			return err
		})
	case "list":
		for i := 0; i < *keys; i += 100 {
			ops := make([]clientv3.Op, 0, 100)
			for j := i; j < min(i+100, *keys); j++ {
				ops = append(ops, clientv3.OpPut(fmt.Sprintf("/bench/k%08d", j), val))
			}
			if _, err := c.Txn(ctx).Then(ops...).Commit(); err != nil {
				log.Fatalf("storepeer: fill: %v", err)
			}
		}
		s = closed(1, *n, func(int) error {
			r, err := c.Get(ctx, "/bench/", clientv3.WithPrefix())
			if err == nil && len(r.Kvs) != *keys {
				err = fmt.Errorf("listed %d keys, want %d", len(r.Kvs), *keys)
			}
			return err
		})
	case "watch":
		s = watch(ctx, c, *watchers, *n, val)
	default:
		log.Fatalf("storepeer: unknown workload %q", fs.Name())
	}
	json.NewEncoder(os.Stdout).Encode(s)
}

// closed runs op n times from workers goroutines, timing each.
func closed(workers, n int, op func(i int) error) sample {
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t := time.Now()
				if err := op(i); err != nil {
					log.Fatalf("storepeer: %v", err)
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		}()
	}
	wg.Wait()
	s := sample{Ops: n, Elapsed: time.Since(start)}
	for _, l := range lat {
		s.Latencies = append(s.Latencies, l...)
	}
	return s
}

// watch opens watchers on /bench/, then puts n keys one at a time and
// records, for every event and watcher, the time from the put's start to
// the watcher receiving it.
func watch(ctx context.Context, c *clientv3.Client, watchers, n int, val string) sample {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	starts := make([]time.Time, n)
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	ready := make(chan struct{}, watchers)
	for range watchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wc := c.Watch(clientv3.WithRequireLeader(ctx), "/bench/", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
			got := 0
			for resp := range wc {
				if resp.Created {
					ready <- struct{}{}
					continue
				}
				now := time.Now()
				for _, ev := range resp.Events {
					var i int
					fmt.Sscanf(string(ev.Kv.Key), "/bench/k%08d", &i)
					mu.Lock()
					lat = append(lat, now.Sub(starts[i]))
					mu.Unlock()
					got++
				}
				if got == n {
					return
				}
			}
		}()
	}
	for range watchers {
		<-ready
	}
	begin := time.Now()
	for i := range n {
		mu.Lock()
		starts[i] = time.Now()
		mu.Unlock()
		if _, err := c.Put(ctx, fmt.Sprintf("/bench/k%08d", i), val); err != nil {
			log.Fatalf("storepeer: put: %v", err)
		}
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return sample{Ops: n * watchers, Elapsed: time.Since(begin), Latencies: lat}
}
