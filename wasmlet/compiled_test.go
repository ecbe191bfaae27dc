package wasmlet

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/wask-dev/wask/wasmlet/sandbox"
)

func TestCompiledCacheClosesOnlyUnusedModules(t *testing.T) {
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	wasm, err := os.ReadFile(filepath.Join("..", "wasm-samples", "tiny", "tiny.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := newCompiledCache(rt, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	var fetches atomic.Int32
	get := func(context.Context) ([]byte, error) { fetches.Add(1); return wasm, nil }

	a, err := c.acquire(ctx, "sha256:a", get)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.acquire(ctx, "sha256:a", get)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || fetches.Load() != 1 {
		t.Fatalf("two pods got different compilations (%p, %p) or it was fetched %d times", a, b, fetches.Load())
	}
	c.cache.Wait()
	// Eviction while pods use it: the module stays open.
	c.cache.Clear()
	if open, _ := c.open(); open != 1 {
		t.Fatalf("evicted while in use: %d open", open)
	}
	c.release(a)
	c.release(b)
	// Evicted, and now unused: closed with the last pod's release.
	if open, _ := c.open(); open != 0 {
		t.Fatalf("an evicted module outlived its last pod: %d open", open)
	}
	d, err := c.acquire(ctx, "sha256:a", get)
	if err != nil {
		t.Fatal(err)
	}
	c.cache.Wait()
	if open, cached := c.open(); open != 1 || cached != 1 || fetches.Load() != 2 {
		t.Fatalf("after a new acquire: open %d cached %d fetches %d, want 1, 1, 2", open, cached, fetches.Load())
	}
	c.release(d)
	// Unused but cached: it stays open for the next pod.
	if open, _ := c.open(); open != 1 {
		t.Fatalf("the cache should keep the unused module: open %d", open)
	}
	c.cache.Clear() // eviction of an unused module closes it
	if open, _ := c.open(); open != 0 {
		t.Fatalf("an evicted unused module stays open: %d", open)
	}
}
