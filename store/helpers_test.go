package store

import (
	"context"
	"io"
	"log/slog"
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
