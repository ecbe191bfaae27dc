package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wask-dev/wask/internal/samplebuild"
)

// sampleWasm builds (or takes from the build cache) a guest of wasm-samples.
func sampleWasm(t *testing.T, name string) []byte {
	t.Helper()
	if name == "tiny" { // hand-written, committed as .wasm
		b, err := os.ReadFile(filepath.Join("..", "..", "wasm-samples", "tiny", "tiny.wasm"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b, err := os.ReadFile(samplebuild.Build(t, filepath.Join("..", "..", "wasm-samples", name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
