package samplebuild

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// writeGuest writes a one-package module to dir.
func writeGuest(t *testing.T, dir, src string) {
	t.Helper()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/guest\n\ngo 1.24\n"), 0o644)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

const command = "package main\n\nfunc main() { println(\"hi\") }\n"

func TestBuildCachesBySource(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs")
	}
	t.Setenv("WASK_SAMPLEBUILD_CACHE", t.TempDir())
	dir := t.TempDir()
	writeGuest(t, dir, command)

	// Parallel builders of one guest agree on one file.
	paths := make([]string, 2)
	var wg sync.WaitGroup
	for i := range paths {
		wg.Go(func() {
			var err error
			if paths[i], err = build(dir, Auto); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if paths[0] != paths[1] {
		t.Fatalf("parallel builds gave %s and %s", paths[0], paths[1])
	}
	wasm, err := os.ReadFile(paths[0])
	if err != nil || !bytes.HasPrefix(wasm, []byte("\x00asm")) || !bytes.Contains(wasm, []byte("_start")) {
		t.Fatalf("not a WASI command (%v)", err)
	}
	st, _ := os.Stat(paths[0])

	// Unchanged sources: the cached file, not rebuilt.
	if p := Build(t, dir); p != paths[0] {
		t.Fatalf("rebuild gave %s", p)
	}
	if st2, _ := os.Stat(paths[0]); !st2.ModTime().Equal(st.ModTime()) {
		t.Fatal("an unchanged guest was rebuilt")
	}

	// Changed sources: a new file.
	writeGuest(t, dir, command+"\nvar x = 1\n")
	if p := Build(t, dir); p == paths[0] {
		t.Fatal("a changed guest reused the old build")
	}

	// The reactor marker builds with -buildmode=c-shared.
	writeGuest(t, dir, "package main\n\n"+ReactorMarker+"\n\n//go:wasmexport f\nfunc f() int32 { return 1 }\n\nfunc main() {}\n")
	wasm, _ = os.ReadFile(Build(t, dir))
	if !bytes.Contains(wasm, []byte("_initialize")) || bytes.Contains(wasm, []byte("\x06_start")) {
		t.Fatal("a marked guest was not built as a reactor")
	}
	wasm, _ = os.ReadFile(BuildMode(t, dir, Command))
	if !bytes.Contains(wasm, []byte("\x06_start")) {
		t.Fatal("BuildMode(Command) did not build a command")
	}
}
