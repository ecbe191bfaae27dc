package apiserver_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/testcluster"
)

// The environment of TestWatcherChildProcess, set only by
// BenchmarkWatchFanout1000Process when it re-executes the test binary.
const (
	envWatchChild  = "WASK_BENCH_WATCH_CHILD"
	envWatchServer = "WASK_BENCH_WATCH_SERVER"
	envWatchCA     = "WASK_BENCH_WATCH_CA"
	envWatchToken  = "WASK_BENCH_WATCH_TOKEN"
)

// BenchmarkWatchFanout1000Process is BenchmarkWatchFanout1000 (gzip on)
// with the 1,000 watchers in another process, as real watchers
// (controllers, nodes) are: the apiserver's process no longer collects the
// receivers' garbage. The child writes one line per delivery ("name
// unix-nanos", wall clock, same machine); the figure is from before Create
// to each delivery. cpu-ms/op is the server process's CPU only.
func BenchmarkWatchFanout1000Process(b *testing.B) {
	c := testcluster.Start(b, testcluster.Options{})
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	caPath := filepath.Join(b.TempDir(), "ca.crt")
	if err := os.WriteFile(caPath, c.CA.CertPEM, 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestWatcherChildProcess$", "-test.v=false")
	cmd.Env = append(os.Environ(), envWatchChild+"=1", envWatchServer+"="+c.URL, envWatchCA+"="+caPath, envWatchToken+"="+c.AdminToken)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close() // the child exits when its stdin closes
		_ = cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	next := func() (string, time.Time) {
		if !lines.Scan() {
			b.Fatalf("watcher process ended: %v", lines.Err())
		}
		name, nanos, ok := strings.Cut(lines.Text(), " ")
		n, err := strconv.ParseInt(nanos, 10, 64)
		if !ok || err != nil {
			b.Fatalf("watcher process: bad line %q", lines.Text())
		}
		return name, time.Unix(0, n)
	}
	if name, _ := next(); name != "ready" {
		b.Fatalf("watcher process: first line %q, want ready", name)
	}
	at := make([]time.Time, 0, watchFanoutWatchers)
	create := func(name string) (time.Time, []time.Time) {
		t0 := time.Now()
		if _, err := client.Create(ctx, c.Client, benchPod(name)); err != nil {
			b.Fatalf("create %s: %v", name, err)
		}
		at = at[:0]
		for len(at) < watchFanoutWatchers {
			got, when := next()
			if got != name {
				b.Fatalf("watcher got ADDED %s, want %s", got, name)
			}
			at = append(at, when)
		}
		return t0, at
	}
	create("warm-up") // every stream is established
	fromCall := make([]time.Duration, 0, b.N*watchFanoutWatchers)
	i := 0
	cpu := processCPU(b)
	for b.Loop() {
		t0, at := create(fmt.Sprintf("p-%d", i))
		i++
		for _, a := range at {
			fromCall = append(fromCall, a.Sub(t0))
		}
	}
	reportCPU(b, cpu, i)
	reportLatencies(b, "", fromCall)
}

// TestWatcherChildProcess is the watcher side of
// BenchmarkWatchFanout1000Process; it skips unless that benchmark started it.
func TestWatcherChildProcess(t *testing.T) {
	if os.Getenv(envWatchChild) != "1" {
		t.Skip("the watcher process of BenchmarkWatchFanout1000Process")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the parent closes stdin when it is done
		_, _ = bufio.NewReader(os.Stdin).ReadByte()
		cancel()
	}()
	cfg := client.Config{Server: os.Getenv(envWatchServer), CA: os.Getenv(envWatchCA), Token: os.Getenv(envWatchToken)}
	var cls []*client.Client
	for range watchFanoutClients {
		cl, err := client.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cls = append(cls, cl)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	// Watching from the revision read before "ready" means no watch misses
	// a change the parent makes after it, however late the server
	// registers the stream.
	_, rev, err := client.List[*waskv1.Pod](ctx, cls[0], client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for w := range watchFanoutWatchers {
		stream, err := cls[w%len(cls)].Objects.Watch(ctx, connect.NewRequest(&waskv1.WatchRequest{Kind: "Pod", Revision: rev}))
		if err != nil {
			t.Fatalf("watch %d: %v", w, err)
		}
		wg.Go(func() {
			defer stream.Close()
			for stream.Receive() {
				ev := stream.Msg()
				if ev.GetType() != "ADDED" {
					continue
				}
				at := time.Now().UnixNano()
				name := ev.GetObject().GetPod().GetMetadata().GetName()
				mu.Lock()
				fmt.Fprintf(out, "%s %d\n", name, at)
				counts[name]++
				if counts[name] == watchFanoutWatchers {
					delete(counts, name)
					_ = out.Flush()
				}
				mu.Unlock()
			}
		})
	}
	mu.Lock()
	fmt.Fprintf(out, "ready %d\n", time.Now().UnixNano())
	_ = out.Flush()
	mu.Unlock()
	<-ctx.Done()
}
