package sandbox

import (
	"context"
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
