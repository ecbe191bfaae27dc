package wasmlet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

var digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// moduleStore keeps module bytes on disk by digest
// (<dir>/sha256/<hex>), fetching what it lacks with ModuleService.Pull and
// checking every byte against the digest before keeping it.
type moduleStore struct {
	c   *client.Client
	dir string

	mu       sync.Mutex
	inflight map[string]*fetchCall
}

type fetchCall struct {
	done chan struct{}
	wasm []byte
	err  error
}

func newModuleStore(c *client.Client, dir string) (*moduleStore, error) {
	if err := os.MkdirAll(filepath.Join(dir, "sha256"), 0o700); err != nil {
		return nil, fmt.Errorf("module cache: %w", err)
	}
	return &moduleStore{c: c, dir: dir, inflight: map[string]*fetchCall{}}, nil
}

// resolve turns a pod's spec.module (a digest or a Module name) into a
// digest.
func (s *moduleStore) resolve(ctx context.Context, ref string) (string, error) {
	if strings.HasPrefix(ref, "sha256:") {
		if !digestRe.MatchString(ref) {
			return "", fmt.Errorf("module %q is not a digest", ref)
		}
		return ref, nil
	}
	m, err := client.Get[*waskv1.Module](ctx, s.c, "", ref)
	if err != nil {
		return "", fmt.Errorf("resolve module %q: %w", ref, err)
	}
	d := m.GetSpec().GetDigest()
	if !digestRe.MatchString(d) {
		return "", fmt.Errorf("module %q names digest %q, which is not a digest", ref, d)
	}
	return d, nil
}

func (s *moduleStore) path(digest string) string {
	return filepath.Join(s.dir, "sha256", strings.TrimPrefix(digest, "sha256:"))
}

// get returns the module's bytes, from disk or pulled. Callers asking for
// the same digest at once share one pull, made by the first in its own
// goroutine; if its context ends, a waiter pulls again.
func (s *moduleStore) get(ctx context.Context, digest string) ([]byte, error) {
	for {
		if wasm, err := s.readCached(digest); err == nil {
			return wasm, nil
		}
		s.mu.Lock()
		call, ok := s.inflight[digest]
		if !ok {
			call = &fetchCall{done: make(chan struct{})}
			s.inflight[digest] = call
			s.mu.Unlock()
			call.wasm, call.err = s.pull(ctx, digest)
			s.mu.Lock()
			delete(s.inflight, digest)
			s.mu.Unlock()
			close(call.done)
			return call.wasm, call.err
		}
		s.mu.Unlock()
		select {
		case <-call.done:
			if call.err != nil && ctx.Err() == nil && (errors.Is(call.err, context.Canceled) || errors.Is(call.err, context.DeadlineExceeded) || connect.CodeOf(call.err) == connect.CodeCanceled) {
				continue // the puller gave up, not us
			}
			return call.wasm, call.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// readCached reads a module from disk, checking its digest (a corrupt file
// is removed and fetched again).
func (s *moduleStore) readCached(digest string) ([]byte, error) {
	p := s.path(digest)
	wasm, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(wasm); "sha256:"+hex.EncodeToString(sum[:]) != digest {
		os.Remove(p)
		return nil, fmt.Errorf("cached module %s is corrupt", digest)
	}
	return wasm, nil
}

// pull downloads a module and keeps it on disk.
func (s *moduleStore) pull(ctx context.Context, digest string) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := s.c.Modules.Pull(ctx, connect.NewRequest(&waskv1.PullRequest{Digest: digest}))
	if err != nil {
		return nil, fmt.Errorf("pull module %s: %w", digest, err)
	}
	defer stream.Close()
	var wasm []byte
	h := sha256.New()
	var size int64 = -1
	for stream.Receive() {
		msg := stream.Msg()
		if size < 0 {
			size = msg.GetSize()
			if size > 0 && size < 1<<30 {
				wasm = make([]byte, 0, size)
			}
		}
		wasm = append(wasm, msg.GetChunk()...)
		h.Write(msg.GetChunk())
	}
	if err := stream.Err(); err != nil {
		return nil, fmt.Errorf("pull module %s: %w", digest, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return nil, fmt.Errorf("pull module %s: got bytes hashing to %s: refused", digest, got)
	}
	if size >= 0 && int64(len(wasm)) != size {
		return nil, fmt.Errorf("pull module %s: got %d bytes, the server announced %d", digest, len(wasm), size)
	}
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "sha256"), ".pull-*")
	if err != nil {
		return nil, fmt.Errorf("cache module %s: %w", digest, err)
	}
	_, werr := tmp.Write(wasm)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("cache module %s: %w", digest, err)
	}
	if err := os.Rename(tmp.Name(), s.path(digest)); err != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("cache module %s: %w", digest, err)
	}
	return wasm, nil
}
