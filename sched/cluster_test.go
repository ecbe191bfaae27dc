package sched

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/testcluster"
)

// Helpers for tests against a real control plane (internal/testcluster)
// with simulated nodes: Node objects with a Ready condition, allocatable
// resources and capabilities, and a Lease, written through the apiserver
// as kwok does, with no sandbox behind them.

// wasmModule returns a minimal valid module that imports one function from
// each named host module and exports _start.
func wasmModule(hostModules ...string) []byte {
	b := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	section := func(id byte, body []byte) {
		b = append(b, id)
		b = appendULEB(b, uint64(len(body)))
		b = append(b, body...)
	}
	str := func(out []byte, s string) []byte { return append(appendULEB(out, uint64(len(s))), s...) }
	section(1, []byte{1, 0x60, 0, 0}) // one type: func() -> ()
	imports := appendULEB(nil, uint64(len(hostModules)))
	for _, m := range hostModules {
		imports = str(imports, m)
		imports = str(imports, "sched_yield")
		imports = append(imports, 0, 0) // func of type 0
	}
	section(2, imports)
	section(3, []byte{1, 0}) // one function of type 0
	export := str([]byte{1}, "_start")
	export = append(export, 0)
	export = appendULEB(export, uint64(len(hostModules))) // after the imported functions
	section(7, export)
	section(10, []byte{1, 2, 0, 0x0b}) // body: no locals, end
	return b
}

func appendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

// push stores a module under name through ModuleService.
func push(t testing.TB, c *client.Client, name string, wasm []byte) *waskv1.Module {
	t.Helper()
	sum := sha256.Sum256(wasm)
	stream := c.Modules.Push(context.Background())
	if err := stream.Send(&waskv1.PushRequest{Msg: &waskv1.PushRequest_Header{Header: &waskv1.PushHeader{
		Name: name, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(wasm)),
	}}}); err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&waskv1.PushRequest{Msg: &waskv1.PushRequest_Chunk{Chunk: wasm}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.CloseAndReceive()
	if err != nil {
		t.Fatalf("push %s: %v", name, err)
	}
	return resp.Msg.GetModule()
}

// addSimNode creates a simulated node: the Node, its status and its Lease.
func addSimNode(t testing.TB, c *client.Client, n *waskv1.Node) {
	t.Helper()
	ctx := context.Background()
	created, err := client.Create(ctx, c, &waskv1.Node{Metadata: n.Metadata, Spec: n.Spec})
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	created.Status = n.Status
	if _, err := client.UpdateStatus(ctx, c, created); err != nil {
		t.Fatalf("node status: %v", err)
	}
	_, err = client.Create(ctx, c, &waskv1.Lease{
		Metadata: &waskv1.ObjectMeta{Name: n.GetMetadata().GetName(), Namespace: "wask-node-lease"},
		Spec:     &waskv1.LeaseSpec{HolderIdentity: n.GetMetadata().GetName(), LeaseDurationSeconds: 40},
	})
	if err != nil {
		t.Fatalf("create lease: %v", err)
	}
}

// startCluster starts a control plane (the apiserver makes the namespace
// for node leases).
func startCluster(t testing.TB) *testcluster.Cluster {
	t.Helper()
	return testcluster.Start(t, testcluster.Options{})
}

// runScheduler runs a scheduler until the test ends.
func runScheduler(t testing.TB, c *client.Client, cfg Config) *Scheduler {
	t.Helper()
	s, _ := startScheduler(t, Options{Client: c, Config: cfg})
	return s
}

// startScheduler runs a scheduler until stop is called or the test ends.
func startScheduler(t testing.TB, opts Options) (s *Scheduler, stop func()) {
	t.Helper()
	var w io.Writer = io.Discard
	if os.Getenv("WASK_TEST_LOG") != "" {
		w = os.Stderr
	}
	opts.Registry = prometheus.NewRegistry()
	opts.Logger = slog.New(slog.NewTextHandler(w, nil))
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("scheduler: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return s, stop
}

// createPod creates a pod built by the pod helper (status and uid are
// server-set).
func createPod(t testing.TB, c *client.Client, p *waskv1.Pod) {
	t.Helper()
	p = proto.Clone(p).(*waskv1.Pod)
	p.Metadata.Uid, p.Status = "", nil
	if _, err := client.Create(context.Background(), c, p); err != nil {
		t.Fatalf("create pod %s: %v", p.GetMetadata().GetName(), err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last state: %s", what, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func getPod(t testing.TB, c *client.Client, name string) *waskv1.Pod {
	t.Helper()
	p, err := client.Get[*waskv1.Pod](context.Background(), c, "default", name)
	if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatal(err)
	}
	return p
}

func podCondition(p *waskv1.Pod, typ string) *waskv1.Condition {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

func simName(i int) string { return fmt.Sprintf("sim-%04d", i) }

func connectRequest[T any](m *T) *connect.Request[T] { return connect.NewRequest(m) }
