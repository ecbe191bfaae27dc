package sandbox

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
)

// Spec is what a pod grants its guest. The zero value grants nothing: no
// arguments, no environment, no files, a fake clock, deterministic
// randomness and no outbound calls.
type Spec struct {
	// Name prefixes errors and logs, and is argv[0].
	Name string
	// Args are argv[1:].
	Args []string
	// Env is the guest's whole environment: exactly these variables.
	Env map[string]string
	// Stdout and Stderr receive the guest's output; nil discards it. They
	// may be written from several instances at once (http modes): make
	// them safe for concurrent use. In http-cgi mode stdout carries the
	// response, so Stdout receives nothing.
	Stdout, Stderr io.Writer
	// MemoryLimit caps each instance's linear memory, in bytes rounded up
	// to 64 KiB pages (as the API's "memory" limit is). 0 = the Runtime's
	// MaxMemoryPages.
	MemoryLimit uint64
	// Timeout bounds each run (command) or request (http) in wall-clock
	// time. 0 = none.
	Timeout time.Duration
	// Mounts are the only host directories the guest sees.
	Mounts []Mount
	// Clock grants the real wall and monotonic clocks and real sleeping;
	// without it the guest sees a fake clock that starts at 2022-01-01 and
	// advances 1 ms per reading, and sleeps return at once.
	Clock bool
	// Random grants crypto/rand; without it the guest's random source is
	// deterministic (the same bytes in every instance).
	Random bool
	// Outbound serves the guest's outbound HTTP calls (the wask host
	// module's http_send). nil = every call fails with ErrNoOutbound's
	// message in the guest.
	Outbound func(ctx context.Context, req *http.Request) (*http.Response, error)
}

// Mount makes a host directory visible to the guest.
type Mount struct {
	HostPath  string // an existing directory on the host
	GuestPath string // absolute path in the guest, e.g. /data
	ReadOnly  bool   // true = the guest cannot write, create or remove
}

// prepared is a Spec checked and turned into wazero configuration once,
// reused by every instance.
type prepared struct {
	spec   Spec
	name   string
	config wazero.ModuleConfig // no start functions, no stdin
	limit  uint64              // bytes, whole pages
}

// prepare validates s for module m.
func (r *Runtime) prepare(m *Module, s Spec) (*prepared, error) {
	name := s.Name
	if name == "" {
		name = "guest"
	}
	limit := uint64(r.maxPages) * pageSize
	if s.MemoryLimit != 0 {
		pages := (s.MemoryLimit + pageSize - 1) / pageSize
		limit = min(limit, pages*pageSize)
	}
	if need := uint64(m.info.MinPages) * pageSize; m.info.HasMemory && need > limit {
		return nil, fmt.Errorf("sandbox: %s: module needs %d bytes of memory at start, Spec.MemoryLimit allows %d: %w", name, need, limit, ErrMemoryLimit)
	}
	if s.Timeout < 0 {
		return nil, fmt.Errorf("sandbox: %s: Spec.Timeout %v is negative", name, s.Timeout)
	}
	c := wazero.NewModuleConfig().
		WithName(""). // instances are anonymous: many run at once
		WithStartFunctions().
		WithArgs(append([]string{name}, s.Args...)...)
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.Contains(s.Env[k], "\x00") {
			return nil, fmt.Errorf("sandbox: %s: Spec.Env[%q]: names must be non-empty without '=' or NUL, values without NUL", name, k)
		}
		c = c.WithEnv(k, s.Env[k])
	}
	if s.Stdout != nil {
		c = c.WithStdout(s.Stdout)
	}
	if s.Stderr != nil {
		c = c.WithStderr(s.Stderr)
	}
	if s.Clock {
		c = c.WithSysWalltime().WithSysNanotime().WithSysNanosleep()
	}
	if s.Random {
		c = c.WithRandSource(rand.Reader)
	}
	if len(s.Mounts) > 0 {
		fsc := wazero.NewFSConfig()
		for i, mt := range s.Mounts {
			st, err := os.Stat(mt.HostPath)
			if err != nil {
				return nil, fmt.Errorf("sandbox: %s: Spec.Mounts[%d].HostPath: %w", name, i, err)
			}
			if !st.IsDir() {
				return nil, fmt.Errorf("sandbox: %s: Spec.Mounts[%d].HostPath %s is not a directory", name, i, mt.HostPath)
			}
			if !path.IsAbs(mt.GuestPath) || path.Clean(mt.GuestPath) != mt.GuestPath {
				return nil, fmt.Errorf("sandbox: %s: Spec.Mounts[%d].GuestPath %q must be a clean absolute path", name, i, mt.GuestPath)
			}
			if mt.ReadOnly {
				fsc = fsc.WithReadOnlyDirMount(mt.HostPath, mt.GuestPath)
			} else {
				fsc = fsc.WithDirMount(mt.HostPath, mt.GuestPath)
			}
		}
		c = c.WithFSConfig(fsc)
	}
	return &prepared{spec: s, name: name, config: c, limit: limit}, nil
}
