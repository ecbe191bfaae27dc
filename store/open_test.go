package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

func TestOpenErrors(t *testing.T) {
	if _, err := Open(Config{}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "Path is required") {
		t.Errorf("Open without a path = %v", err)
	}

	t.Run("locked", func(t *testing.T) {
		cfg := testConfig(t)
		s := openTest(t, cfg)
		mustPut(t, s, "k", "v")
		_, err := Open(cfg)
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), cfg.Path) {
			t.Fatalf("second Open = %v, want ErrLocked naming the directory", err)
		}
		if kv, err := s.Get(context.Background(), []byte("k")); err != nil || string(kv.Value) != "v" {
			t.Fatalf("first store disturbed: %v %v", kv, err)
		}
	})

	t.Run("corrupt", func(t *testing.T) {
		cfg := testConfig(t)
		s, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		mustPut(t, s, "k", "v")
		s.Close()
		manifests, _ := filepath.Glob(filepath.Join(cfg.Path, "MANIFEST-*"))
		if len(manifests) == 0 {
			t.Fatal("no MANIFEST to corrupt")
		}
		for _, m := range manifests {
			if err := os.WriteFile(m, bytes.Repeat([]byte{0xA5}, 4096), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err = Open(cfg)
		if err == nil || !strings.Contains(err.Error(), "not a readable store") || !strings.Contains(err.Error(), cfg.Path) {
			t.Fatalf("Open of a corrupt store = %v", err)
		}
		// The failed open released the directory.
		if _, err := pebble.LockDirectory(cfg.Path, cfg.withDefaults().fs); err != nil {
			t.Fatalf("directory still locked after a failed Open: %v", err)
		}
	})

	t.Run("foreign pebble database", func(t *testing.T) {
		cfg := testConfig(t)
		db, err := pebble.Open(cfg.Path, &pebble.Options{Logger: pebbleLogger{cfg.Logger}})
		if err != nil {
			t.Fatal(err)
		}
		db.Set([]byte("someone else's"), []byte("data"), pebble.Sync)
		db.Close()
		_, err = Open(cfg)
		if err == nil || !strings.Contains(err.Error(), "not a wask store") {
			t.Fatalf("Open of a foreign database = %v", err)
		}
	})
}

// TestLogsGoToLogger checks Pebble's logs reach the injected logger.
func TestLogsGoToLogger(t *testing.T) {
	var buf bytes.Buffer
	cfg := testConfig(t)
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "k", "v")
	s.Close()
	s, err = Open(cfg) // replays the WAL, which Pebble logs
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !strings.Contains(buf.String(), "component=pebble") {
		t.Fatalf("no Pebble log line reached the logger; got:\n%s", buf.String())
	}
}
