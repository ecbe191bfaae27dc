package apiserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/store"
)

// newFanoutServer returns a Server on a fresh store (no sync).
func newFanoutServer(t *testing.T) *Server {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Config{Path: t.TempDir(), NoSync: true, CompactionInterval: -1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	s, err := New(Config{Store: st, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// putPod writes pod ns/name straight to the store and returns its revision.
func putPod(t *testing.T, s *Server, ns, name string) int64 {
	t.Helper()
	k := kinds["Pod"]
	value, err := k.encode(&waskv1.Pod{ApiVersion: apiVersion, Kind: "Pod", Metadata: &waskv1.ObjectMeta{Name: name, Namespace: ns}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.st.Txn(context.Background(), store.Txn{Ops: []store.Op{store.Put(k.key(ns, name), value)}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Revision
}

// next waits for the subscriber's next event.
func next(t *testing.T, sub *fanoutSub) *fanoutEvent {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		sub.mu.Lock()
		if len(sub.queue) > 0 {
			e := sub.queue[0]
			sub.queue = sub.queue[1:]
			sub.mu.Unlock()
			return e
		}
		err := sub.err
		sub.mu.Unlock()
		if err != nil {
			t.Fatalf("cut off: %v", err)
		}
		select {
		case <-sub.notify:
		case <-deadline:
			t.Fatal("no event within 10 s")
		}
	}
}

// waitCutOff waits until sub is cut off and returns why.
func waitCutOff(t *testing.T, sub *fanoutSub) error {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if _, err := sub.take(nil); err != nil {
			return err
		}
		select {
		case <-sub.notify:
		case <-deadline:
			t.Fatal("not cut off within 10 s")
		}
	}
}

func expectPod(t *testing.T, sub *fanoutSub, name string, rev int64) *fanoutEvent {
	t.Helper()
	e := next(t, sub)
	m, err := e.message()
	if err != nil {
		t.Fatal(err)
	}
	if got := m.(*waskv1.Pod).GetMetadata().GetName(); got != name || e.rev != rev {
		t.Fatalf("got %s at %d, want %s at %d", got, e.rev, name, rev)
	}
	return e
}

func TestFanoutIsSharedAndFiltersNamespaces(t *testing.T) {
	s := newFanoutServer(t)
	k := kinds["Pod"]
	from := s.st.Revision()
	fAll, all, err := s.subscribe(k, "", k.prefix(""), from)
	if err != nil {
		t.Fatal(err)
	}
	fA, inA, err := s.subscribe(k, "", k.prefix("a"), from)
	if err != nil {
		t.Fatal(err)
	}
	if fA != fAll || fA.private {
		t.Fatal("two watches of one kind from the same revision do not share a fan-out")
	}
	r1 := putPod(t, s, "b", "p1")
	r2 := putPod(t, s, "a", "p2")
	e1 := expectPod(t, all, "p1", r1)
	e2 := expectPod(t, all, "p2", r2)
	if got := expectPod(t, inA, "p2", r2); got != e2 {
		t.Fatal("the streams got different copies of one event")
	}
	if e1.natural() != eventAdded {
		t.Fatalf("type %s", e1.natural())
	}
	// The message every stream sends is made once.
	m1, _ := e2.send(eventAdded)
	m2, _ := e2.send(eventAdded)
	if m1 != m2 {
		t.Fatal("send made the message twice")
	}

	s.unsubscribe(fA, inA)
	s.unsubscribe(fAll, all)
	select {
	case <-fAll.done:
	default:
		t.Fatal("the fan-out still runs after its last stream ended")
	}
	if len(s.fanouts) != 0 {
		t.Fatalf("fan-outs left: %v", s.fanouts)
	}
}

func TestFanoutJoinsBehindFromRingElsePrivate(t *testing.T) {
	s := newFanoutServer(t)
	k := kinds["Pod"]
	r0 := putPod(t, s, "a", "p0")
	f, first, err := s.subscribe(k, "", k.prefix(""), r0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.unsubscribe(f, first)
	r1 := putPod(t, s, "a", "p1")
	r2 := putPod(t, s, "a", "p2")
	expectPod(t, first, "p1", r1)
	expectPod(t, first, "p2", r2)

	// Behind the fan-out but within its ring: shares it, replayed.
	fb, behind, err := s.subscribe(k, "", k.prefix(""), r1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.unsubscribe(fb, behind)
	if fb != f {
		t.Fatal("a watch the ring covers got its own fan-out")
	}
	expectPod(t, behind, "p2", r2)

	// From before the fan-out started: a private one, from the change log.
	fp, old, err := s.subscribe(k, "", k.prefix(""), r0-1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.unsubscribe(fp, old)
	if fp == f || !fp.private {
		t.Fatal("a watch from before the shared fan-out joined it")
	}
	expectPod(t, old, "p0", r0)
	expectPod(t, old, "p1", r1)
	expectPod(t, old, "p2", r2)

	r3 := putPod(t, s, "a", "p3")
	for _, sub := range []*fanoutSub{first, behind, old} {
		expectPod(t, sub, "p3", r3)
	}
}

func TestFanoutCutsOffSlowStreamOnly(t *testing.T) {
	s := newFanoutServer(t)
	s.watchQueueLimit = 3
	k := kinds["Pod"]
	from := s.st.Revision()
	f, slow, err := s.subscribe(k, "", k.prefix(""), from)
	if err != nil {
		t.Fatal(err)
	}
	defer s.unsubscribe(f, slow)
	_, fast, err := s.subscribe(k, "", k.prefix(""), from)
	if err != nil {
		t.Fatal(err)
	}
	defer s.unsubscribe(f, fast)
	for i := range 5 {
		rev := putPod(t, s, "a", "p"+string(rune('0'+i)))
		expectPod(t, fast, "p"+string(rune('0'+i)), rev)
	}
	if err := waitCutOff(t, slow); !errors.Is(err, store.ErrWatcherTooSlow) {
		t.Fatalf("slow stream ended with %v", err)
	}
	rev := putPod(t, s, "a", "later")
	expectPod(t, fast, "later", rev)
}

func TestFanoutProgress(t *testing.T) {
	s := newFanoutServer(t)
	k := kinds["Pod"]
	f, sub, err := s.subscribe(k, "", k.prefix(""), s.st.Revision())
	if err != nil {
		t.Fatal(err)
	}
	defer s.unsubscribe(f, sub)
	rev := putPod(t, s, "a", "p")
	expectPod(t, sub, "p", rev)
	// A write of another kind moves the store on; progress says so.
	other, err := s.st.Txn(context.Background(), store.Txn{Ops: []store.Op{store.Put([]byte(registryPrefix+"nodes/n"), nil)}})
	if err != nil {
		t.Fatal(err)
	}
	f.requestProgress(sub)
	if e := next(t, sub); !e.progress || e.rev != other.Revision {
		t.Fatalf("got %+v, want progress at %d", e, other.Revision)
	}
}

func TestFanoutEndsWithStore(t *testing.T) {
	s := newFanoutServer(t)
	k := kinds["Pod"]
	f, sub, err := s.subscribe(k, "", k.prefix(""), s.st.Revision())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := waitCutOff(t, sub); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("ended with %v", err)
	}
	s.unsubscribe(f, sub)
	if len(s.fanouts) != 0 {
		t.Fatal("an ended fan-out is still registered")
	}
}
