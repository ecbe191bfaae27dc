package wask_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/wask-dev/wask"

// allowedImports is the import table of ARCHITECTURE.md: for each part (a
// top-level folder, or api/wask/v1), the other parts its non-test code may
// import. A part may always import its own subpackages and internal/
// helpers (but not internal/testcluster, which is for tests). "*" means
// anything.
var allowedImports = map[string][]string{
	"api":          {},
	"store":        {},
	"apiserver":    {"api", "store"},
	"client":       {"api"},
	"sched":        {"api", "client"},
	"ctrl":         {"api", "client"},
	"wasmlet":      {"api", "client"},
	"meshproxy":    {"api", "client"},
	"wasm-samples": {},
	"bench":        {"*"},
	"cmd":          {"*"},
	"internal":     {"*"},
}

// heavyOwners names the only part (package path prefix inside the module)
// allowed to import each heavy dependency, in test code too.
var heavyOwners = map[string]string{
	"github.com/cockroachdb/pebble": "store",
	"github.com/tetratelabs/wazero": "wasmlet/sandbox",
	"github.com/quic-go/quic-go":    "meshproxy",
}

// part returns the part a module-relative package path belongs to.
func part(pkg string) string {
	first, _, _ := strings.Cut(pkg, "/")
	return first
}

// checkImport returns a reason if the file in package dir (module-relative)
// may not import path.
func checkImport(dir, path string, isTest bool) string {
	for dep, owner := range heavyOwners {
		if (path == dep || strings.HasPrefix(path, dep+"/")) && dir != owner && !strings.HasPrefix(dir, owner+"/") {
			return "only " + owner + " may import " + dep
		}
	}
	if !strings.HasPrefix(path, module+"/") {
		return ""
	}
	target := strings.TrimPrefix(path, module+"/")
	from, to := part(dir), part(target)
	if from == to {
		return ""
	}
	if to == "internal" {
		if strings.HasPrefix(target, "internal/testcluster") && !isTest && from != "bench" && from != "cmd" && from != "internal" {
			return "internal/testcluster is for tests, bench and cmd only"
		}
		return ""
	}
	if isTest {
		return "" // tests may reach further, e.g. a real store behind an apiserver
	}
	allowed, known := allowedImports[from]
	if !known {
		return "part " + from + " is not in ARCHITECTURE.md's table (add it to allowedImports)"
	}
	if slices.Contains(allowed, "*") || slices.Contains(allowed, to) {
		return ""
	}
	return from + " may not import " + to
}

func TestDependencyRules(t *testing.T) {
	fset := token.NewFileSet()
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != "." {
				return filepath.SkipDir // a nested module has its own rules
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		if dir == "." {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		seen[part(dir)] = true
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if reason := checkImport(dir, p, strings.HasSuffix(path, "_test.go")); reason != "" {
				t.Errorf("%s imports %s: %s", path, p, reason)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !seen["store"] || !seen["api"] {
		t.Fatalf("walked parts %v: the walk missed the tree", seen)
	}
}

// TestDependencyRulesCatchViolations proves the checker is not vacuous.
func TestDependencyRulesCatchViolations(t *testing.T) {
	bad := []struct{ dir, path string }{
		{"sched", module + "/store"},
		{"sched", module + "/apiserver"},
		{"ctrl/replicaset", module + "/wasmlet"},
		{"client", module + "/store"},
		{"apiserver", "github.com/cockroachdb/pebble/v2"},
		{"wasmlet", "github.com/tetratelabs/wazero"},
		{"wasmlet", module + "/internal/testcluster"},
		{"store", module + "/api/wask/v1"},
		{"newpart", module + "/api/wask/v1"},
	}
	for _, b := range bad {
		if checkImport(b.dir, b.path, false) == "" {
			t.Errorf("%s importing %s passed; want a violation", b.dir, b.path)
		}
	}
	good := []struct{ dir, path string }{
		{"apiserver", module + "/store"},
		{"sched", module + "/api/wask/v1"},
		{"wasmlet/sandbox", "github.com/tetratelabs/wazero"},
		{"store", "github.com/cockroachdb/pebble/v2/vfs"},
		{"cmd/wask", module + "/apiserver"},
		{"ctrl/deployment", module + "/ctrl"},
	}
	for _, g := range good {
		if r := checkImport(g.dir, g.path, false); r != "" {
			t.Errorf("%s importing %s: %s; want allowed", g.dir, g.path, r)
		}
	}
}
