package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// evString renders an event compactly for comparisons.
func evString(ev Event) string {
	return fmt.Sprintf("%s %s=%s @%d c%d v%d", ev.Type, ev.KV.Key, ev.KV.Value, ev.KV.ModRevision, ev.KV.CreateRevision, ev.KV.Version)
}

func collect(t *testing.T, w *Watch, n int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, evString(nextEvent(t, w)))
	}
	return out
}

func TestWatchLiveAndFromRevision(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := openTest(t, testConfig(t))
	live, err := s.Watch(ctx, []byte("a/"), 0)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "a/1", "x")                                                                                     // 1
	mustPut(t, s, "b/1", "skip")                                                                                  // 2: other prefix
	mustPut(t, s, "a/1", "y")                                                                                     // 3
	if _, err := s.Txn(ctx, Txn{Ops: []Op{Put([]byte("a/2"), []byte("z")), Delete([]byte("a/1"))}}); err != nil { // 4
		t.Fatal(err)
	}
	all := []string{
		"PUT a/1=x @1 c1 v1",
		"PUT a/1=y @3 c1 v2",
		"PUT a/2=z @4 c4 v1",
		"DELETE a/1=y @4 c1 v0",
	}
	if diff := cmp.Diff(all, collect(t, live, 4)); diff != "" {
		t.Fatalf("live watch (-want +got):\n%s", diff)
	}
	for from := int64(0); from <= 4; from++ {
		if from == 0 {
			continue // 0 means "from now"
		}
		w, err := s.Watch(ctx, []byte("a/"), from)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, e := range all {
			var rev int64
			fmt.Sscanf(e[strings.LastIndex(e, "@"):], "@%d", &rev)
			if rev > from {
				want = append(want, e)
			}
		}
		mustPut(t, s, fmt.Sprintf("a/live-%d", from), "l")
		liveEv := fmt.Sprintf("PUT a/live-%d=l @%d c%d v1", from, s.Revision(), s.Revision())
		want = append(want, liveEv)
		all = append(all, liveEv)
		if diff := cmp.Diff(want, collect(t, w, len(want))); diff != "" {
			t.Errorf("watch from %d (-want +got):\n%s", from, diff)
		}
	}
}

// TestWatchReplayAcrossRestart resumes a watch from a revision after the
// store was closed and reopened: the change log is durable.
func TestWatchReplayAcrossRestart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(t)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 50; i++ {
		mustPut(t, s, fmt.Sprintf("k/%d", i%7), fmt.Sprint(i))
	}
	mustDelete(t, s, "k/3")
	s.Close()

	s = openTest(t, cfg)
	if s.Revision() != 51 {
		t.Fatalf("revision after reopen = %d, want 51", s.Revision())
	}
	w, err := s.Watch(ctx, []byte("k/"), 40)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 41; i <= 50; i++ {
		want = append(want, fmt.Sprintf("PUT k/%d=%d @%d", i%7, i, i))
	}
	want = append(want, "DELETE k/3=45 @51")
	var got []string
	for range want {
		ev := nextEvent(t, w)
		got = append(got, fmt.Sprintf("%s %s=%s @%d", ev.Type, ev.KV.Key, ev.KV.Value, ev.KV.ModRevision))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("replay after restart (-want +got):\n%s", diff)
	}
	if r := mustPut(t, s, "k/new", "n"); r != 52 {
		t.Fatalf("first revision after reopen = %d, want 52", r)
	}
	if ev := nextEvent(t, w); ev.KV.ModRevision != 52 {
		t.Fatalf("live event after replay at %d, want 52", ev.KV.ModRevision)
	}
}

// TestWatchCatchUpBeyondRing replays more revisions than the in-memory ring
// holds while writes continue, and checks every revision arrives once, in
// order.
func TestWatchCatchUpBeyondRing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(t)
	cfg.WatchCacheRevisions = 8
	cfg.NoSync = true
	s := openTest(t, cfg)
	for i := 0; i < 3000; i++ {
		mustPut(t, s, "k", fmt.Sprint(i))
	}
	w, err := s.Watch(ctx, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 500; i++ {
			if _, err := s.Txn(ctx, Txn{Ops: []Op{Put([]byte("k"), []byte("more"))}}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for want := int64(2); want <= 3500; want++ {
		if ev := nextEvent(t, w); ev.KV.ModRevision != want {
			t.Fatalf("event at revision %d, want %d", ev.KV.ModRevision, want)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWatchSlowWatcherCutOff: a watcher that stops reading is cut off with
// ErrWatcherTooSlow once its queue limit is exceeded, while writes go on and
// a watcher that reads gets every event.
func TestWatchSlowWatcherCutOff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(t)
	cfg.WatchQueueLimit = 16
	cfg.NoSync = true
	s := openTest(t, cfg)
	slow, err := s.Watch(ctx, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := s.Watch(ctx, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both watchers to be live", func() bool { return s.hub.liveWatchers() == 2 })
	// Lockstep: each write waits until the fast watcher has it, so the
	// fast watcher's queue never holds more than one event.
	const writes = 200
	for i := int64(1); i <= writes; i++ {
		mustPut(t, s, "k", fmt.Sprint(i))
		if ev := nextEvent(t, fast); ev.KV.ModRevision != i {
			t.Fatalf("fast watcher got revision %d, want %d", ev.KV.ModRevision, i)
		}
	}
	// The slow watcher never read: its goroutine holds at most one event
	// in hand and the limit in its queue, then it was cut off. Draining it
	// yields a gapless prefix of the events, then the error.
	var last int64
	for ev := range slow.Events() {
		if ev.KV.ModRevision != last+1 {
			t.Fatalf("slow watcher skipped from %d to %d before being cut off", last, ev.KV.ModRevision)
		}
		last = ev.KV.ModRevision
	}
	if !errors.Is(slow.Err(), ErrWatcherTooSlow) {
		t.Fatalf("slow watcher error = %v, want ErrWatcherTooSlow", slow.Err())
	}
	if last > int64(cfg.WatchQueueLimit)+1 {
		t.Fatalf("slow watcher received %d events, more than its limit allows", last)
	}
}

func TestWatchEnds(t *testing.T) {
	s, err := Open(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	byCtx, err := s.Watch(ctx, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	byClose, err := s.Watch(context.Background(), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := waitEnd(t, byCtx); !errors.Is(err, context.Canceled) {
		t.Errorf("watch error after cancel = %v, want context.Canceled", err)
	}
	mustPut(t, s, "k", "v") // byClose holds an undelivered event at Close
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := waitEnd(t, byClose); !errors.Is(err, ErrClosed) {
		t.Errorf("watch error after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Watch(context.Background(), nil, -1); !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrClosed) {
		t.Errorf("Watch(-1) = %v", err)
	}
}

// TestWatchFromZero: revision 0 is "before the first write", so a watch
// from 0 replays everything (a List of an empty store returns 0).
func TestWatchFromZero(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := openTest(t, testConfig(t))
	list, err := s.List(ctx, ListOptions{})
	if err != nil || list.Revision != 0 {
		t.Fatalf("List of an empty store = %d, %v", list.Revision, err)
	}
	mustPut(t, s, "k", "1") // between the List and the Watch
	w, err := s.Watch(ctx, nil, list.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, w); ev.KV.ModRevision != 1 {
		t.Fatalf("first event at %d, want 1", ev.KV.ModRevision)
	}
}

func TestWatchRequestProgress(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := openTest(t, testConfig(t))
	w, err := s.Watch(ctx, []byte("mine/"), 0)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "mine/a", "1")  // 1
	mustPut(t, s, "other/b", "1") // 2: not under the prefix
	mustPut(t, s, "other/c", "1") // 3
	if ev := nextEvent(t, w); ev.KV.ModRevision != 1 {
		t.Fatalf("event at %d, want 1", ev.KV.ModRevision)
	}
	w.RequestProgress()
	ev := nextEvent(t, w)
	if ev.Type != EventProgress || ev.KV.ModRevision != 3 {
		t.Fatalf("progress = %s at %d, want PROGRESS at 3", ev.Type, ev.KV.ModRevision)
	}
	// A request made while catching up is answered after the catch-up.
	mustPut(t, s, "mine/d", "1") // 4
	w2, err := s.Watch(ctx, []byte("mine/"), 0)
	if err != nil {
		t.Fatal(err)
	}
	w2.RequestProgress()
	var got []string
	for len(got) < 3 {
		ev := nextEvent(t, w2)
		got = append(got, fmt.Sprintf("%s@%d", ev.Type, ev.KV.ModRevision))
	}
	if diff := cmp.Diff([]string{"PUT@1", "PUT@4", "PROGRESS@4"}, got); diff != "" {
		t.Fatalf("catch-up with a progress request (-want +got):\n%s", diff)
	}
}

// TestHubRegisterAheadOfPublish replays the interleaving the fuzzer found:
// a watcher catches up from the log to revision 1, which the syncer has made
// readable but not yet published, and joins the hub; the publication of
// revision 1 that follows must not reach it a second time.
func TestHubRegisterAheadOfPublish(t *testing.T) {
	h := newHub(0, 16, 100)
	w := &watcher{notify: make(chan struct{}, 1)}
	if ok, err := h.register(w, 1); !ok || err != nil {
		t.Fatalf("register = %v, %v", ok, err)
	}
	h.publish(1, []Event{{Type: EventPut, KV: KeyValue{Key: []byte("k"), ModRevision: 1}}})
	h.publish(2, []Event{{Type: EventPut, KV: KeyValue{Key: []byte("k"), ModRevision: 2}}})
	got, err := w.take()
	if err != nil || len(got) != 1 || got[0].KV.ModRevision != 2 {
		t.Fatalf("queued %v, %v; want only revision 2", got, err)
	}
}
