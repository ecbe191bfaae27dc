package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/wask-dev/wask/store"
)

func init() {
	register(Scenario{Name: "store", Doc: "wask's store vs raw Pebble vs embedded etcd: synced puts at 1/8/64 writers, list of 10k keys, watch fan-out to 1,000 watchers", Run: runStore})
}

const storeValueSize = 256

func benchKey(i int) []byte { return fmt.Appendf(nil, "/bench/k%08d", i) }

func runStore(ctx context.Context, env *Env) error {
	fresh := func(name string) string {
		dir := filepath.Join(env.dir, name)
		os.RemoveAll(dir)
		return dir
	}
	// withStore runs f on a fresh wask store.
	withStore := func(f func(st *store.Store) (Sample, error)) (Sample, error) {
		st, err := store.Open(store.Config{Path: fresh("wask"), Logger: slog.New(slog.DiscardHandler), CompactionInterval: -1})
		if err != nil {
			return Sample{}, err
		}
		defer st.Close()
		return f(st)
	}
	// The peers run in a process of their own (bench/peers/storepeer), so
	// neither etcd nor a second user of Pebble enters wask's module.
	peerBin, why := buildPeer(ctx, env, "storepeer")
	if peerBin == "" {
		env.Report.Note("raw Pebble and etcd were left out: %s", why)
	}
	peers := func(args ...string) []Contender {
		if peerBin == "" {
			return nil
		}
		var cs []Contender
		for _, p := range [][2]string{{"raw Pebble", "pebble"}, {"etcd (embedded)", "etcd"}} {
			if p[1] == "pebble" && args[0] == "watch" {
				continue
			}
			cs = append(cs, Contender{p[0], func(ctx context.Context) (Sample, error) {
				return runPeer(ctx, peerBin, append([]string{"-engine", p[1], "-dir", fresh(p[1])}, args...)...)
			}})
		}
		return cs
	}
	for _, writers := range []int{1, 8, 64} {
		n := env.Quick(20*writers, 500*writers)
		n = min(n, env.Quick(400, 20000))
		c := &Case{Name: fmt.Sprintf("synced puts, %d writers", writers), Group: "synced puts", Concurrency: writers}
		cs := []Contender{
			{"wask store", func(ctx context.Context) (Sample, error) {
				return withStore(func(st *store.Store) (Sample, error) {
					return Closed(ctx, writers, n, func(ctx context.Context, _, i int) error {
						_, err := st.Txn(ctx, store.Txn{Ops: []store.Op{store.Put(benchKey(i), make([]byte, storeValueSize))}})
						return err
					})
				})
			}},
		}
		cs = append(cs, peers("puts", "-writers", strconv.Itoa(writers), "-n", strconv.Itoa(n))...)
		if err := env.Compare(ctx, c, cs...); err != nil {
			return err
		}
	}

	keys, lists := env.Quick(500, 10000), env.Quick(2, 10)
	c := &Case{Name: fmt.Sprintf("list of %d keys", keys)}
	cs := []Contender{
		{"wask store", func(ctx context.Context) (Sample, error) {
			return withStore(func(st *store.Store) (Sample, error) { return listKeys(ctx, st, keys, lists) })
		}},
	}
	cs = append(cs, peers("list", "-keys", strconv.Itoa(keys), "-n", strconv.Itoa(lists))...)
	if err := env.Compare(ctx, c, cs...); err != nil {
		return err
	}

	watchers, events := env.Quick(50, 1000), env.Quick(5, 20)
	c = &Case{Name: fmt.Sprintf("watch fan-out to %d watchers (put → each watcher)", watchers)}
	cs = []Contender{{"wask store", func(ctx context.Context) (Sample, error) {
		return withStore(func(st *store.Store) (Sample, error) { return storeWatchFanout(ctx, st, watchers, events) })
	}}}
	cs = append(cs, peers("watch", "-watchers", strconv.Itoa(watchers), "-n", strconv.Itoa(events))...)
	env.Report.Note("Raw Pebble has no watch; its watch row is absent. Every put is synced (fsync before it is acknowledged) on every side.")
	return env.Compare(ctx, c, cs...)
}

// listKeys writes keys keys, then lists them all n times.
func listKeys(ctx context.Context, st *store.Store, keys, n int) (Sample, error) {
	for i := 0; i < keys; i += 100 {
		var t store.Txn
		for j := i; j < min(i+100, keys); j++ {
			t.Ops = append(t.Ops, store.Put(benchKey(j), make([]byte, storeValueSize)))
		}
		if _, err := st.Txn(ctx, t); err != nil {
			return Sample{}, err
		}
	}
	return Closed(ctx, 1, n, func(ctx context.Context, _, _ int) error {
		r, err := st.List(ctx, store.ListOptions{Prefix: []byte("/bench/")})
		if err == nil && len(r.KVs) != keys {
			err = fmt.Errorf("listed %d keys, want %d", len(r.KVs), keys)
		}
		return err
	})
}

// storeWatchFanout puts events keys one at a time with watchers watching,
// and times each (event, watcher) delivery from the put's start.
func storeWatchFanout(ctx context.Context, st *store.Store, watchers, events int) (Sample, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	starts := make([]time.Time, events)
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for range watchers {
		w, err := st.Watch(ctx, []byte("/bench/"), st.Revision())
		if err != nil {
			return Sample{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for got := 0; got < events; {
				select {
				case ev, ok := <-w.Events():
					if !ok {
						return
					}
					if ev.Type != store.EventPut {
						continue
					}
					now := time.Now()
					var i int
					fmt.Sscanf(string(ev.KV.Key), "/bench/k%08d", &i)
					mu.Lock()
					lat = append(lat, now.Sub(starts[i]))
					mu.Unlock()
					got++
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	begin := time.Now()
	for i := range events {
		mu.Lock()
		starts[i] = time.Now()
		mu.Unlock()
		if _, err := st.Txn(ctx, store.Txn{Ops: []store.Op{store.Put(benchKey(i), make([]byte, storeValueSize))}}); err != nil {
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

// runPeer runs a peer command for one round and decodes its sample.
func runPeer(ctx context.Context, bin string, args ...string) (Sample, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return Sample{}, fmt.Errorf("%s %v: %w: %s", filepath.Base(bin), args, err, lastLine(errb.String()))
	}
	var s struct {
		Ops       int             `json:"ops"`
		Elapsed   time.Duration   `json:"elapsed_ns"`
		Latencies []time.Duration `json:"latencies_ns"`
	}
	if err := json.NewDecoder(&out).Decode(&s); err != nil && err != io.EOF {
		return Sample{}, fmt.Errorf("%s: output: %w", filepath.Base(bin), err)
	}
	return Sample{Ops: s.Ops, Elapsed: s.Elapsed, Latencies: s.Latencies}, nil
}
