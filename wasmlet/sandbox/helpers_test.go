package sandbox

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/wask-dev/wask/internal/samplebuild"
)

// The tests share one runtime (as the pods of a node do) and compile each
// guest once; wazero's compilation cache on disk makes later runs fast.
var (
	sharedOnce sync.Once
	sharedRT   *Runtime
	sharedErr  error
	modulesMu  sync.Mutex
	modules    = map[string]*Module{}
)

func testRuntime(t testing.TB) *Runtime {
	t.Helper()
	sharedOnce.Do(func() {
		cfg := Config{}
		if c, err := os.UserCacheDir(); err == nil {
			cfg.CompilationCacheDir = filepath.Join(c, "wask-sandbox-test-wazero")
		}
		sharedRT, sharedErr = New(context.Background(), cfg)
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedRT
}

// guest compiles a Go guest: a sample of wasm-samples by name, or a
// directory under testdata.
func guest(t testing.TB, name string) *Module {
	t.Helper()
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m, ok := modules[name]; ok {
		return m
	}
	dir := filepath.Join("..", "..", "wasm-samples", name)
	if _, err := os.Stat(dir); err != nil {
		dir = filepath.Join("testdata", name)
	}
	wasm, err := os.ReadFile(samplebuild.Build(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	m := compile(t, wasm)
	modules[name] = m
	return m
}

// compile compiles wasm on the shared runtime; the module lives as long
// as the test binary unless the test closes it.
func compile(t testing.TB, wasm []byte) *Module {
	t.Helper()
	m, err := testRuntime(t).Compile(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run runs a command module and returns its exit and output, failing t if
// it did not start.
func run(t testing.TB, m *Module, s Spec) (Exit, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	s.Stdout, s.Stderr = &stdout, &stderr
	exit, err := testRuntime(t).RunCommand(context.Background(), m, s)
	if err != nil {
		t.Fatalf("RunCommand: %v", err)
	}
	return exit, stdout.String(), stderr.String()
}

func mustExit(t testing.TB, got Exit, reason string, code uint32) {
	t.Helper()
	if got.Reason != reason || got.Code != code {
		t.Fatalf("exit = %+v, want reason %s code %d", got, reason, code)
	}
}

// testWasm reads testdata/name.wasm (built from name.wat by go generate).
func testWasm(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
