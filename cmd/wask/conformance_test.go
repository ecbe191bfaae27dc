package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// wasiSuite is the WASI testsuite beside the project (../shared/testdata).
var wasiSuite = filepath.Join("..", "..", "..", "shared", "testdata", "wasi-testsuite")

// TestWASITestsuiteThroughPods runs every test of the WASI testsuite as a
// command pod of a real cluster (wask up: apiserver, scheduler, wasmlet)
// with `wask conformance`; everything passes except what wazero is known
// to differ on.
func TestWASITestsuiteThroughPods(t *testing.T) {
	if _, err := os.Stat(wasiSuite); err != nil {
		t.Fatalf("the WASI testsuite is not at %s (the project's checkout must sit beside shared/): %v", wasiSuite, err)
	}
	c := startUp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"--config", c.config, "conformance", filepath.Join(wasiSuite, "tests"),
		"--expectations", filepath.Join(wasiSuite, "expectations-wazero-linux.toml"), "--work-dir", t.TempDir()}, nil, &out, &errb)
	t.Logf("wask conformance:\n%s%s", out.String(), errb.String())
	if code != 0 {
		t.Fatalf("wask conformance exited %d", code)
	}
	m := regexp.MustCompile(`(\d+) passed, (\d+) failed, (\d+) expected failures, (\d+) unexpected passes, (\d+) errors \((\d+) tests\)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no summary line in the output")
	}
	if m[2] != "0" || m[5] != "0" {
		t.Errorf("failures or errors: %s", m[0])
	}
	if m[6] == "0" || m[1] == "0" {
		t.Errorf("nothing ran: %s", m[0])
	}
	if n := strings.Count(out.String(), "\nPASS ") + strings.Count(out.String(), "\nXFAIL ") + strings.Count(out.String(), "\nXPASS "); n == 0 {
		t.Errorf("no per-test lines")
	}
}
