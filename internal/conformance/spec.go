package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Test is one test program and what it must do.
type Test struct {
	// Suite is the name in the suite's manifest.json ("WASI C tests
	// [wasm32-wasip1]"), or its folder's name.
	Suite string
	// Name is the file name without ".wasm".
	Name string
	// Wasm is the module's path.
	Wasm string
	Args []string
	Env  map[string]string
	// Root, if set, is a directory (absolute) to copy afresh and mount
	// read-write as the guest's "/".
	Root string
	// ExitCode is the expected exit code.
	ExitCode int
	// Stdout and Stderr, when not nil, are the expected outputs.
	Stdout, Stderr *string
}

// ID is "suite/name".
func (t Test) ID() string { return t.Suite + "/" + t.Name }

// spec is a NAME.json, in the old form (keys) or the new (operations).
type spec struct {
	Args       []string          `json:"args"`
	Env        map[string]string `json:"env"`
	Root       string            `json:"root"`
	Dirs       []string          `json:"dirs"`
	ExitCode   *int              `json:"exit_code"`
	Stdout     *string           `json:"stdout"`
	Stderr     *string           `json:"stderr"`
	Operations []operation       `json:"operations"`
}

// operation is one step of a new-style spec: "run" (args, env, dirs),
// "wait" (exit_code), "read" (id "stdout" or "stderr", content).
type operation struct {
	Type     string            `json:"type"`
	Args     []string          `json:"args"`
	Env      map[string]string `json:"env"`
	Dirs     []string          `json:"dirs"`
	ExitCode *int              `json:"exit_code"`
	ID       string            `json:"id"`
	Content  *string           `json:"content"`
}

// Discover returns the tests under dir (every *.wasm, at any depth),
// sorted by suite and name. A spec that cannot be read is an error naming
// its file.
func Discover(dir string) ([]Test, error) {
	var tests []Test
	suites := map[string]string{} // folder: suite name
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".wasm") {
			return nil
		}
		folder := filepath.Dir(path)
		suite, ok := suites[folder]
		if !ok {
			suite = suiteName(folder)
			suites[folder] = suite
		}
		t, err := load(path, suite)
		if err != nil {
			return err
		}
		tests = append(tests, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	if len(tests) == 0 {
		return nil, fmt.Errorf("conformance: no *.wasm test under %s", dir)
	}
	sort.Slice(tests, func(i, j int) bool { return tests[i].ID() < tests[j].ID() })
	return tests, nil
}

// suiteName is the name in folder's manifest.json, or the folder's path.
func suiteName(folder string) string {
	var m struct {
		Name string `json:"name"`
	}
	if b, err := os.ReadFile(filepath.Join(folder, "manifest.json")); err == nil && json.Unmarshal(b, &m) == nil && m.Name != "" {
		return m.Name
	}
	return filepath.Base(folder)
}

// load reads the test at wasm and its spec, if any.
func load(wasm, suite string) (Test, error) {
	abs, err := filepath.Abs(wasm)
	if err != nil {
		return Test{}, err
	}
	t := Test{Suite: suite, Name: strings.TrimSuffix(filepath.Base(wasm), ".wasm"), Wasm: abs}
	specPath := strings.TrimSuffix(wasm, ".wasm") + ".json"
	b, err := os.ReadFile(specPath)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return Test{}, err
	}
	var s spec
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Test{}, fmt.Errorf("%s: %w", specPath, err)
	}
	if err := s.flatten(); err != nil {
		return Test{}, fmt.Errorf("%s: %w", specPath, err)
	}
	t.Args, t.Env, t.Stdout, t.Stderr = s.Args, s.Env, s.Stdout, s.Stderr
	if s.ExitCode != nil {
		t.ExitCode = *s.ExitCode
	}
	root := s.Root
	switch {
	case root != "" && len(s.Dirs) > 0:
		return Test{}, fmt.Errorf("%s: both root and dirs", specPath)
	case len(s.Dirs) > 1:
		return Test{}, fmt.Errorf("%s: dirs: %d directories; this runner mounts one, as /", specPath, len(s.Dirs))
	case len(s.Dirs) == 1:
		root = s.Dirs[0]
	}
	if root != "" {
		t.Root = filepath.Join(filepath.Dir(abs), root)
		if fi, err := os.Stat(t.Root); err != nil || !fi.IsDir() {
			return Test{}, fmt.Errorf("%s: root %q: not a directory under the test's folder", specPath, root)
		}
	}
	return t, nil
}

// flatten maps new-style operations onto the old keys.
func (s *spec) flatten() error {
	for i, op := range s.Operations {
		switch op.Type {
		case "run":
			s.Args, s.Env, s.Dirs = op.Args, op.Env, op.Dirs
		case "wait":
			s.ExitCode = op.ExitCode
		case "read":
			switch op.ID {
			case "stdout":
				s.Stdout = op.Content
			case "stderr":
				s.Stderr = op.Content
			default:
				return fmt.Errorf("operations[%d]: read of %q: want stdout or stderr", i, op.ID)
			}
		default:
			return fmt.Errorf("operations[%d]: type %q: want run, wait or read", i, op.Type)
		}
	}
	return nil
}
