package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRuntimeDescribesItself(t *testing.T) {
	rt := testRuntime(t)
	if got := rt.HostModules(); !slices.Equal(got, []string{"wasi_snapshot_preview1", "wask"}) {
		t.Fatalf("HostModules = %v", got)
	}
	if got := rt.Modes(); !slices.Equal(got, []string{ModeCommand, ModeHTTPCGI, ModeHTTPReactor}) {
		t.Fatalf("Modes = %v", got)
	}
	if _, err := rt.Compile(context.Background(), []byte("not wasm")); err == nil {
		t.Fatal("compiled garbage")
	}
	if _, err := New(context.Background(), Config{MaxMemoryPages: 70000}); err == nil {
		t.Fatal("accepted more than 4 GiB of pages")
	}
	// A module compiled here is described as Inspect describes it.
	wasm := testWasm(t, "reactor")
	want, err := Inspect(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	if got := compile(t, wasm).Info(); !slices.Equal(got.Modes, want.Modes) || !slices.Equal(got.HostModules, want.HostModules) || got.MaxPages != want.MaxPages {
		t.Fatalf("Info %+v, Inspect %+v", got, want)
	}
}

// TestCompileInstrumentsTheWASISuite compiles every module of the WASI
// testsuite (C and AssemblyScript toolchains, unlike the Go samples):
// each is rewritten by internal/preempt and must still validate.
func TestCompileInstrumentsTheWASISuite(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(wasiSuite, "*", "testsuite", "*", "*.wasm"))
	if err != nil || len(files) == 0 {
		t.Skipf("no WASI testsuite modules under %s (%v)", wasiSuite, err)
	}
	rt := testRuntime(t)
	for _, f := range files {
		wasm, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := rt.Compile(context.Background(), wasm)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		for _, h := range m.Info().HostModules {
			if h == "wask:preempt" {
				t.Errorf("%s: Info lists the instrumentation's own import", filepath.Base(f))
			}
		}
		m.Close(context.Background())
	}
}
