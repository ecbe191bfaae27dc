package wasmlet

import (
	"context"
	"fmt"
	"sync"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/wask-dev/wask/wasmlet/sandbox"
)

// compiledCache compiles each module once per node and shares it between
// the pods running it.
//
// A compiled module is reference-counted: each pod using it holds a
// reference, and so does the ristretto cache while it keeps the module for
// later pods. The cache is bounded by module size and may drop or evict an
// entry at any time (it is never the source of truth: live is); when the
// last reference goes, the module is closed. So eviction closes a module
// only when no pod uses it.
type compiledCache struct {
	rt    *sandbox.Runtime
	cache *ristretto.Cache[string, *compiled]

	mu   sync.Mutex
	live map[string]*compiled // every open (or compiling) module
}

// compiled is one module compiled on this node.
type compiled struct {
	digest string
	ready  chan struct{} // closed when compiling ended
	mod    *sandbox.Module
	err    error
	size   int64

	refs   int  // guarded by compiledCache.mu
	cached bool // the ristretto cache holds a reference
}

func newCompiledCache(rt *sandbox.Runtime, maxBytes int64) (*compiledCache, error) {
	c := &compiledCache{rt: rt, live: map[string]*compiled{}}
	cache, err := ristretto.NewCache(&ristretto.Config[string, *compiled]{
		NumCounters: 10_000,
		MaxCost:     maxBytes,
		BufferItems: 64,
		OnExit:      c.uncache,
	})
	if err != nil {
		return nil, fmt.Errorf("compiled module cache: %w", err)
	}
	c.cache = cache
	return c, nil
}

// acquire returns the compiled module digest, compiling the bytes wasm
// returns if no pod or cache has it; release it when done.
func (c *compiledCache) acquire(ctx context.Context, digest string, wasm func(context.Context) ([]byte, error)) (*compiled, error) {
	c.mu.Lock()
	e, ok := c.live[digest]
	if ok {
		e.refs++
		c.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			c.release(e)
			return nil, ctx.Err()
		}
		if e.err != nil {
			c.release(e)
			return nil, e.err
		}
		c.cache.Get(digest) // counts the use for the admission policy
		c.ensureCached(e)
		return e, nil
	}
	e = &compiled{digest: digest, ready: make(chan struct{}), refs: 1}
	c.live[digest] = e
	c.mu.Unlock()

	b, err := wasm(ctx)
	if err == nil {
		e.size = int64(len(b))
		e.mod, err = c.rt.Compile(ctx, b)
		if err != nil {
			err = fmt.Errorf("compile module %s: %w", digest, err)
		}
	}
	e.err = err
	close(e.ready)
	if err != nil {
		c.release(e)
		return nil, err
	}
	c.ensureCached(e)
	return e, nil
}

// ensureCached offers e to the cache (which holds a reference while it
// keeps e).
func (c *compiledCache) ensureCached(e *compiled) {
	c.mu.Lock()
	if e.cached {
		c.mu.Unlock()
		return
	}
	e.cached = true
	e.refs++
	c.mu.Unlock()
	if !c.cache.Set(e.digest, e, max(e.size, 1)) {
		c.uncache(e) // dropped at once
	}
}

// uncache drops the cache's reference (ristretto's OnExit: evicted,
// rejected or cleared).
func (c *compiledCache) uncache(e *compiled) {
	c.mu.Lock()
	if !e.cached {
		c.mu.Unlock()
		return
	}
	e.cached = false
	c.mu.Unlock()
	c.release(e)
}

// release drops one reference, closing the module with the last.
func (c *compiledCache) release(e *compiled) {
	c.mu.Lock()
	e.refs--
	last := e.refs == 0
	if last && c.live[e.digest] == e {
		delete(c.live, e.digest)
	}
	c.mu.Unlock()
	if last && e.mod != nil {
		e.mod.Close(context.Background())
	}
}

// open returns how many compiled modules are open and how many of them the
// cache holds.
func (c *compiledCache) open() (open, cached int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.live {
		if e.cached {
			cached++
		}
	}
	return len(c.live), cached
}

// close empties the cache and stops its goroutines; modules still used by
// pods stay open until released.
func (c *compiledCache) close() {
	c.cache.Close()
}
