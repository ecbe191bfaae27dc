package samplebuild

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ReactorMarker is the comment line that makes a sample a reactor, built
// with -buildmode=c-shared (its exports are called; main never runs).
const ReactorMarker = "//wask:reactor"

// Mode is how a guest is built.
type Mode int

const (
	// Auto builds a reactor if a source file of the package has a line
	// that is exactly ReactorMarker, and a command otherwise.
	Auto Mode = iota
	// Command builds a WASI command (_start).
	Command
	// Reactor builds with -buildmode=c-shared (_initialize and exports).
	Reactor
)

// Build builds the Go main package in dir for wasip1 and returns the path
// of the .wasm file, failing tb if it cannot.
func Build(tb testing.TB, dir string) string {
	tb.Helper()
	return BuildMode(tb, dir, Auto)
}

// BuildMode is Build with the mode given.
func BuildMode(tb testing.TB, dir string, mode Mode) string {
	tb.Helper()
	p, err := build(dir, mode)
	if err != nil {
		tb.Fatalf("samplebuild: %v", err)
	}
	return p
}

func build(dir string, mode Mode) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	root, modPath, err := findModule(dir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "samplebuild 1\n%s\n%s\n", runtime.Version(), os.Getenv("GOFLAGS"))
	reactor, err := hashPackage(h, dir, root, modPath, map[string]bool{})
	if err != nil {
		return "", err
	}
	switch mode {
	case Command:
		reactor = false
	case Reactor:
		reactor = true
	}
	fmt.Fprintf(h, "reactor %v\n", reactor)
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := hashFile(h, filepath.Join(root, f)); err != nil && !os.IsNotExist(err) {
			return "", err
		}
	}
	cacheDir, err := cacheDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(cacheDir, filepath.Base(dir)+"-"+hex.EncodeToString(h.Sum(nil))[:24]+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	// Build to a temporary file and rename: parallel test processes may
	// build the same guest; each rename is atomic and the results equal.
	tmp, err := os.CreateTemp(cacheDir, ".build-*.wasm")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	args := []string{"build", "-trimpath", "-o", tmp.Name()}
	if reactor {
		args = append(args, "-buildmode=c-shared")
	}
	cmd := exec.Command(goTool(), append(args, ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building %s: %v\n%s", dir, err, stderr.String())
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	return out, nil
}

// goTool is the go command of the running toolchain.
func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}

func cacheDir() (string, error) {
	base := os.Getenv("WASK_SAMPLEBUILD_CACHE")
	if base == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			c = os.TempDir()
		}
		base = filepath.Join(c, "wask-samplebuild")
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("cache dir: %w", err)
	}
	return base, nil
}

// findModule returns the directory and path of the module holding dir.
func findModule(dir string) (root, modPath string, err error) {
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
					return d, strings.Trim(strings.TrimSpace(rest), `"`), nil
				}
			}
			return "", "", fmt.Errorf("%s/go.mod has no module line", d)
		}
		if filepath.Dir(d) == d {
			return "", "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// hashPackage hashes the Go files of the package in dir and, recursively,
// of the packages of the same module it imports. It reports whether a
// file of dir carries ReactorMarker.
func hashPackage(h io.Writer, dir, root, modPath string, seen map[string]bool) (reactor bool, err error) {
	if seen[dir] {
		return false, nil
	}
	seen[dir] = true
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return false, err
	}
	slices.Sort(names)
	var deps []string
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			return false, err
		}
		fmt.Fprintf(h, "file %s %d\n", filepath.Base(name), len(src))
		h.Write(src)
		for _, line := range strings.Split(string(src), "\n") {
			if strings.TrimSpace(line) == ReactorMarker {
				reactor = true
			}
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			return false, err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if rel, ok := strings.CutPrefix(p, modPath+"/"); ok {
				deps = append(deps, filepath.Join(root, filepath.FromSlash(rel)))
			}
		}
	}
	for _, d := range deps {
		if _, err := hashPackage(h, d, root, modPath, seen); err != nil {
			return false, err
		}
	}
	return reactor, nil
}

func hashFile(h io.Writer, name string) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	fmt.Fprintf(h, "file %s %d\n", filepath.Base(name), len(b))
	_, err = h.Write(b)
	return err
}
