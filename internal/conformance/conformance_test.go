package conformance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var suite = filepath.Join("..", "..", "..", "shared", "testdata", "wasi-testsuite")

func TestDiscoverTheWASITestsuite(t *testing.T) {
	tests, err := Discover(filepath.Join(suite, "tests"))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Test{}
	for _, tt := range tests {
		byName[tt.Name] = tt
	}
	if len(tests) < 20 || len(byName) != len(tests) {
		t.Fatalf("%d tests (%d names)", len(tests), len(byName))
	}
	if s := byName["fd_write-to-stdout"]; s.Stdout == nil || *s.Stdout != "hello" || s.Suite != "WASI AssemblyScript tests [wasm32-wasip1]" {
		t.Errorf("fd_write-to-stdout: %+v", s)
	}
	if s := byName["proc_exit-failure"]; s.ExitCode != 33 {
		t.Errorf("proc_exit-failure: exit code %d, want 33", s.ExitCode)
	}
	if s := byName["lseek"]; !strings.HasSuffix(s.Root, "fs-tests.dir") || !filepath.IsAbs(s.Root) {
		t.Errorf("lseek: root %q", s.Root)
	}
	if s := byName["environ_get-multiple-variables"]; s.Env["c"] != "new\nline" {
		t.Errorf("environ_get-multiple-variables: env %q", s.Env)
	}
	exp, err := ParseExpectations(filepath.Join(suite, "expectations-wazero-linux.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Lists(byName["pwrite-with-append"]) || exp.Lists(byName["lseek"]) {
		t.Errorf("expectations: %v", exp)
	}
}

func TestSpecForms(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	write("new.wasm", "")
	write("new.json", `{"operations": [{"type": "run", "args": ["x"], "env": {"A": "1"}, "dirs": ["d"]},
		{"type": "wait", "exit_code": 3}, {"type": "read", "id": "stdout", "content": "out"}]}`)
	tests, err := Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := tests[0]
	if got.ExitCode != 3 || *got.Stdout != "out" || got.Args[0] != "x" || got.Env["A"] != "1" || filepath.Base(got.Root) != "d" {
		t.Errorf("operations flattened to %+v", got)
	}
	for bad, why := range map[string]string{
		`{"argz": []}`:                                `unknown field "argz"`,
		`{"root": "nope"}`:                            "not a directory",
		`{"operations": [{"type": "fly"}]}`:           `type "fly"`,
		`{"root": "d", "dirs": ["d"]}`:                "both root and dirs",
		`{"operations": [{"type": "read", "id": 1}]}`: "cannot unmarshal",
	} {
		write("new.json", bad)
		if _, err := Discover(dir); err == nil || !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), "new.json") {
			t.Errorf("spec %s: error %v, want one naming new.json and %q", bad, err, why)
		}
	}
}

func TestExpectationsErrorsNameTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.toml")
	os.WriteFile(path, []byte("version = 1\n[[suite.test]]\nname = \"a\"\n"), 0o644)
	if _, err := ParseExpectations(path); err == nil || !strings.Contains(err.Error(), "x.toml:2:") {
		t.Errorf("error %v, want one naming line 2", err)
	}
}
