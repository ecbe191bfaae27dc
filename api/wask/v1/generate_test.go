package waskv1_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// protocVersionLine matches the header line in which protoc-gen-go records protoc's version; it
// is the one part of the output that depends on the protoc installed rather than on the sources.
var protocVersionLine = regexp.MustCompile(`(?m)^// \tprotoc +v.*$`)

// TestGeneratedCodeIsCurrent regenerates the code from the .proto files into a temporary
// directory and fails if it differs from the committed code. It needs protoc on PATH.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Skip("protoc not on PATH; install it (apt-get install protobuf-compiler) to check the generated code")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not on PATH")
	}
	out := t.TempDir()
	cmd := exec.Command("bash", filepath.Join("..", "..", "generate.sh"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("api/generate.sh: %v\n%s", err, b)
	}

	want := generatedFiles(t, filepath.Join(out, "wask", "v1"))
	got := generatedFiles(t, ".")
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s is not committed; run api/generate.sh", name)
			continue
		}
		if !bytes.Equal(normalize(g), normalize(w)) {
			t.Errorf("%s differs from what the .proto files generate; run api/generate.sh", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s is generated code without a .proto; delete it", name)
		}
	}
}

// generatedFiles reads the generated files under dir, keyed by slash-separated relative path.
func generatedFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(path, ".pb.go") && !strings.HasSuffix(path, ".connect.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatalf("reading generated files in %s: %v", dir, err)
	}
	if len(files) == 0 {
		t.Fatalf("no generated files in %s", dir)
	}
	return files
}

func normalize(b []byte) []byte {
	return protocVersionLine.ReplaceAll(b, []byte("// \tprotoc"))
}
