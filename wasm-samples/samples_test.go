// Package samples_test checks what the samples ship besides code: every
// sample has a manifest that decodes strictly, and tiny.wasm is what
// tiny.wat assembles to.
package samples_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/internal/manifest"
)

var samples = map[string]string{ // name: mode
	"hello": "command", "fail": "command", "spin": "command", "hog": "command",
	"echo": "http-reactor", "cgi-echo": "http-cgi", "tiny": "http-reactor",
	"chain": "http-reactor",
}

func TestManifests(t *testing.T) {
	for name, mode := range samples {
		file := filepath.Join(name, name+".yaml")
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := manifest.Decode(f, file)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		var spec *waskv1.PodSpec
		for _, o := range objs {
			switch v := o.Unwrap().(type) {
			case *waskv1.Pod:
				spec = v.GetSpec()
			case *waskv1.Deployment:
				spec = v.GetSpec().GetTemplate().GetSpec()
			}
		}
		if spec.GetMode() != mode || spec.GetModule() != "./"+name+".wasm" {
			t.Errorf("%s: mode %q module %q, want %q ./%s.wasm", file, spec.GetMode(), spec.GetModule(), mode, name)
		}
	}
}

func TestTinyIsBuiltFromWat(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm (Debian's wabt) not installed")
	}
	out := filepath.Join(t.TempDir(), "tiny.wasm")
	if b, err := exec.Command(wat2wasm, "tiny/tiny.wat", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, b)
	}
	want, _ := os.ReadFile(out)
	got, err := os.ReadFile("tiny/tiny.wasm")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("tiny/tiny.wasm differs from wat2wasm tiny/tiny.wat (%v): run go generate ./wasm-samples/tiny", err)
	}
}
