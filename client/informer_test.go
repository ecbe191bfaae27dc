package client

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/apiserver"
	"github.com/wask-dev/wask/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startServer runs a real store and apiserver over h2c on loopback.
func startServer(t *testing.T) (*Client, *store.Store) {
	t.Helper()
	st, err := store.Open(store.Config{Path: filepath.Join(t.TempDir(), "store"), CompactionInterval: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(apiserver.Config{Store: st, Logger: quiet, BookmarkInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- srv.Serve(ctx, apiserver.ServeConfig{Listener: lis, Insecure: true, Tokens: apiserver.StaticTokens{Admin: "admin"}})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		st.Close()
	})
	c, err := New(Config{Server: "http://" + lis.Addr().String(), Token: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	return c, st
}

func testPod(name string, labels map[string]string) *waskv1.Pod {
	return &waskv1.Pod{
		Metadata: &waskv1.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
		Spec:     &waskv1.PodSpec{Module: "sha256:" + fmt.Sprintf("%064x", 1), Mode: "command"},
	}
}

// recorder collects handler calls as strings.
type recorder struct {
	mu     sync.Mutex
	events []string
	change chan struct{}
}

func newRecorder() *recorder { return &recorder{change: make(chan struct{}, 1)} }

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
	select {
	case r.change <- struct{}{}:
	default:
	}
}

func (r *recorder) handler() Handler {
	return Handler{
		OnAdd: func(o *waskv1.Object) { r.add("add " + Key(o)) },
		OnUpdate: func(old, o *waskv1.Object) {
			r.add("update " + Key(o) + " " + o.GetPod().GetMetadata().GetLabels()["v"])
		},
		OnDelete: func(o *waskv1.Object) { r.add("delete " + Key(o)) },
	}
}

// waitFor waits until the recorder holds n events and returns them.
func (r *recorder) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		got := append([]string(nil), r.events...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.change:
		case <-deadline:
			t.Fatalf("have %d events, want %d: %v", len(got), n, got)
		}
	}
}

func TestInformer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, _ := startServer(t)
	if _, err := Create(ctx, c, testPod("before", nil)); err != nil {
		t.Fatal(err)
	}
	inf, err := NewInformer(c, InformerOptions{Kind: "pods", Namespace: "default", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	inf.AddHandler(rec.handler())
	ran := make(chan error, 1)
	go func() { ran <- inf.Run(ctx) }()
	if err := inf.WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	changePods(t, ctx, c)
	want := []string{"add default/before", "add default/after", "update default/after 2", "delete default/before"}
	if diff := cmp.Diff(want, rec.waitFor(t, len(want))); diff != "" {
		t.Fatalf("handler calls (-want +got):\n%s", diff)
	}
	var keys []string
	for _, o := range inf.List() {
		keys = append(keys, Key(o))
	}
	if diff := cmp.Diff([]string{"default/after"}, keys); diff != "" {
		t.Fatalf("cache (-want +got):\n%s", diff)
	}
	if o, ok := inf.Get("default", "after"); !ok || o.GetPod().GetMetadata().GetLabels()["v"] != "2" {
		t.Fatalf("Get(after) = %v, %v", o, ok)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
}

// TestInformerRelistAfterCompaction: a watch from a compacted revision
// fails with OutOfRange, and the relist that follows delivers exactly the
// difference between the cache and the cluster.
func TestInformerRelistAfterCompaction(t *testing.T) {
	ctx := context.Background()
	c, st := startServer(t)
	for _, name := range []string{"keep", "change", "gone"} {
		if _, err := Create(ctx, c, testPod(name, nil)); err != nil {
			t.Fatal(err)
		}
	}
	inf, err := NewInformer(c, InformerOptions{Kind: "Pod", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := inf.relist(ctx); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	inf.AddHandler(rec.handler())

	// While the informer is not watching: changes, then compaction.
	changed, _ := Get[*waskv1.Pod](ctx, c, "default", "change")
	changed.Metadata.Labels = map[string]string{"v": "9"}
	if _, err := Update(ctx, c, changed); err != nil {
		t.Fatal(err)
	}
	if _, err := Delete[*waskv1.Pod](ctx, c, "default", "gone", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(ctx, c, testPod("new", nil)); err != nil {
		t.Fatal(err)
	}
	if err := st.Compact(ctx, st.Revision()); err != nil {
		t.Fatal(err)
	}
	if err := inf.watch(ctx); connect.CodeOf(err) != connect.CodeOutOfRange {
		t.Fatalf("watch from a compacted revision: %v, want OutOfRange", err)
	}
	if err := inf.relist(ctx); err != nil {
		t.Fatal(err)
	}
	got := rec.waitFor(t, 3)
	want := []string{"delete default/gone", "update default/change 9", "add default/new"}
	if diff := cmp.Diff(want, got, cmpSorted); diff != "" {
		t.Fatalf("relist delivered (-want +got):\n%s", diff)
	}
}

func TestInformerBookmarksAdvanceRevision(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, st := startServer(t)
	inf, err := NewInformer(c, InformerOptions{Kind: "Pod", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	go inf.Run(ctx)
	if err := inf.WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	// Writes of another kind: only bookmarks can tell the pod informer.
	if _, err := Create(ctx, c, &waskv1.Namespace{Metadata: &waskv1.ObjectMeta{Name: "elsewhere"}}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint(st.Revision())
	deadline := time.Now().Add(10 * time.Second)
	for inf.Revision() != want {
		if time.Now().After(deadline) {
			t.Fatalf("informer revision %s, want %s via a bookmark", inf.Revision(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var cmpSorted = cmp.Transformer("sorted", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

// TestInformerIndexer: an indexer sees every change of the cache, and has
// seen it before any handler does (it runs under the cache's lock, so an
// index it keeps never lags Get).
func TestInformerIndexer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, _ := startServer(t)
	if _, err := Create(ctx, c, testPod("before", nil)); err != nil {
		t.Fatal(err)
	}
	inf, err := NewInformer(c, InformerOptions{Kind: "pods", Namespace: "default", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	indexed := map[string]bool{}
	var calls []string
	inf.AddIndexer(func(old, cur *waskv1.Object) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case old == nil:
			calls = append(calls, "add "+Key(cur))
			indexed[Key(cur)] = true
		case cur == nil:
			calls = append(calls, "delete "+Key(old))
			delete(indexed, Key(old))
		default:
			calls = append(calls, "update "+Key(cur))
		}
	})
	rec := newRecorder()
	inf.AddHandler(Handler{
		OnAdd: func(o *waskv1.Object) {
			mu.Lock()
			seen := indexed[Key(o)]
			mu.Unlock()
			rec.add(fmt.Sprintf("add %s indexed=%v", Key(o), seen))
		},
		OnDelete: func(o *waskv1.Object) {
			mu.Lock()
			seen := indexed[Key(o)]
			mu.Unlock()
			rec.add(fmt.Sprintf("delete %s indexed=%v", Key(o), seen))
		},
	})
	go func() { _ = inf.Run(ctx) }()
	if err := inf.WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	changePods(t, ctx, c)
	want := []string{"add default/before indexed=true", "add default/after indexed=true", "delete default/before indexed=false"}
	if diff := cmp.Diff(want, rec.waitFor(t, len(want))); diff != "" {
		t.Fatalf("handlers saw (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"add default/before", "add default/after", "update default/after", "delete default/before"}, calls); diff != "" {
		t.Fatalf("indexer calls (-want +got):\n%s", diff)
	}
}

// changePods makes the changes the informer tests watch for: pod "after"
// created, then updated with label v=2; pod "before" deleted.
func changePods(t *testing.T, ctx context.Context, c *Client) {
	t.Helper()
	p, err := Create(ctx, c, testPod("after", nil))
	if err != nil {
		t.Fatal(err)
	}
	p.Metadata.Labels = map[string]string{"v": "2"}
	if _, err := Update(ctx, c, p); err != nil {
		t.Fatal(err)
	}
	if _, err := Delete[*waskv1.Pod](ctx, c, "default", "before", nil); err != nil {
		t.Fatal(err)
	}
}
