package store

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"
)

// testConfig is a store config in a fresh temp dir with automatic
// compaction off and logs discarded.
func testConfig(t testing.TB) Config {
	t.Helper()
	return Config{
		Path:               t.TempDir(),
		CompactionInterval: -1,
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func openTest(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustPut(t testing.TB, s *Store, key, value string) int64 {
	t.Helper()
	resp, err := s.Txn(context.Background(), Txn{Ops: []Op{Put([]byte(key), []byte(value))}})
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	return resp.Revision
}

func mustDelete(t testing.TB, s *Store, key string) int64 {
	t.Helper()
	resp, err := s.Txn(context.Background(), Txn{Ops: []Op{Delete([]byte(key))}})
	if err != nil {
		t.Fatalf("delete %q: %v", key, err)
	}
	return resp.Revision
}

// nextEvent waits up to 10 s for the watch's next event.
func nextEvent(t testing.TB, w *Watch) Event {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		if !ok {
			t.Fatalf("watch ended: %v", w.Err())
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("no watch event within 10s")
	}
	return Event{}
}

// waitEnd waits up to 10 s for the watch to end and returns its error.
func waitEnd(t testing.TB, w *Watch) error {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-w.Events():
			if !ok {
				return w.Err()
			}
		case <-deadline:
			t.Fatalf("watch did not end within 10s")
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// liveWatchers returns how many watchers are registered for live events.
func (h *hub) liveWatchers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers)
}
