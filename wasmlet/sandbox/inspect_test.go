package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// wasiSuite is the shared WASI testsuite (see its README), next to the
// main checkout (../../../shared) or to the worktrees (../../../../shared).
var wasiSuite = func() string {
	for _, up := range []string{"../../..", "../../../.."} {
		p := filepath.Join(up, "shared", "testdata", "wasi-testsuite", "tests")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join("..", "..", "..", "shared", "testdata", "wasi-testsuite", "tests")
}()

func TestInspectReactor(t *testing.T) {
	wasm, err := os.ReadFile("testdata/reactor.wasm")
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	want := ModuleInfo{
		Imports:     []Import{{Module: "wask", Name: "log", Kind: "func"}},
		Exports:     []Export{{Name: "_initialize", Kind: "func"}, {Name: "memory", Kind: "memory"}, {Name: "wask_http_handle", Kind: "func"}},
		HasMemory:   true,
		MinPages:    1,
		MaxPages:    4,
		HasMaxPages: true,
		Modes:       []string{ModeHTTPReactor},
		HostModules: []string{"wask"},
	}
	if diff := cmp.Diff(want, info); diff != "" {
		t.Fatalf("Inspect (-want +got):\n%s", diff)
	}
}

// TestInspectWASICommands inspects real WASI programs built by other
// toolchains (C with wasi-libc, AssemblyScript).
func TestInspectWASICommands(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(wasiSuite, "*", "*", "*", "*.wasm"))
	if len(paths) == 0 {
		t.Fatalf("no WASI testsuite modules under %s", wasiSuite)
	}
	for _, p := range paths {
		wasm, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		info, err := Inspect(context.Background(), wasm)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !slices.Equal(info.Modes, []string{ModeCommand, ModeHTTPCGI}) || !slices.Contains(info.HostModules, "wasi_snapshot_preview1") || !info.HasMemory {
			t.Errorf("%s: %+v", filepath.Base(p), info)
		}
	}
}

func TestInspectRejectsInvalid(t *testing.T) {
	wasm, _ := os.ReadFile("testdata/reactor.wasm")
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"not wasm":  []byte("#!/bin/sh\necho hi\n"),
		"truncated": wasm[:len(wasm)-3],
	} {
		if _, err := Inspect(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "invalid WebAssembly module") {
			t.Errorf("%s: Inspect = %v, want an invalid-module error", name, err)
		}
	}
}
