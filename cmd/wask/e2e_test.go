package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cli runs one wask command in-process against the cluster's config.
type cli struct {
	t      *testing.T
	config string
}

func (c cli) run(stdin string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = run(ctx, append([]string{"--config", c.config}, args...), strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func (c cli) ok(stdin string, args ...string) string {
	c.t.Helper()
	out, errs, code := c.run(stdin, args...)
	if code != 0 {
		c.t.Fatalf("wask %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// startUp runs `wask up` in-process on a fresh data dir and returns a CLI
// bound to its admin config.
func startUp(t *testing.T) cli {
	t.Helper()
	dataDir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"up", "--data-dir", dataDir, "--api-addr", "127.0.0.1:0", "--log-level", "warn"}, nil, &out, &errb)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("wask up exited %d: %s", code, errb.String())
		}
	})
	config := filepath.Join(dataDir, "admin.yaml")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(config); err == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("wask up exited %d: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("wask up wrote no admin.yaml within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cli{t: t, config: config}
}

const podManifest = `apiVersion: wask.dev/v1
kind: Pod
metadata:
  name: hello
  labels: {app: hello}
spec:
  module: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  mode: command
  args: [one, two]
`

func TestCLIEndToEnd(t *testing.T) {
	c := startUp(t)
	if out := c.ok(podManifest, "apply", "-f", "-"); out != "pod/hello created\n" {
		t.Fatalf("apply: %q", out)
	}
	if out := c.ok(podManifest, "apply", "-f", "-"); out != "pod/hello unchanged\n" {
		t.Fatalf("second apply: %q", out)
	}
	out := c.ok("", "get", "pods")
	if !strings.HasPrefix(out, "NAME    READY   STATUS    RESTARTS   AGE\nhello   0/1     Pending   0          ") {
		t.Fatalf("get pods:\n%s", out)
	}
	// What get -o yaml prints can be applied again.
	y := c.ok("", "get", "pod", "hello", "-o", "yaml")
	if !strings.Contains(y, "apiVersion: wask.dev/v1\nkind: Pod\n") || !strings.Contains(y, "- one\n") {
		t.Fatalf("get -o yaml:\n%s", y)
	}
	if out := c.ok(y, "apply", "-f", "-"); out != "pod/hello unchanged\n" {
		t.Fatalf("apply of get -o yaml: %q", out)
	}
	if out := c.ok("", "get", "pods", "-o", "name"); out != "pod/hello\n" {
		t.Fatalf("get -o name: %q", out)
	}
	changed := strings.Replace(podManifest, "app: hello", "app: hello, tier: web", 1)
	if out := c.ok(changed, "apply", "-f", "-"); out != "pod/hello configured\n" {
		t.Fatalf("apply of a change: %q", out)
	}
	if out := c.ok("", "get", "pods", "-l", "tier=web", "-o", "name"); out != "pod/hello\n" {
		t.Fatalf("get -l: %q", out)
	}
	d := c.ok("", "describe", "pod", "hello")
	for _, want := range []string{"Name:         hello", "Namespace:    default", "Labels:       app=hello\n              tier=web", "Status:       Pending", "Spec:\n  module: sha256:", "Events:\n  <none>"} {
		if !strings.Contains(d, want) {
			t.Errorf("describe lacks %q:\n%s", want, d)
		}
	}
	if out := c.ok("", "delete", "pod", "hello"); out != "pod \"hello\" deleted\n" {
		t.Fatalf("delete: %q", out)
	}
	if _, errs, code := c.run("", "get", "pod", "hello"); code != 1 || !strings.Contains(errs, "not found") {
		t.Fatalf("get of a deleted pod: exit %d, %q", code, errs)
	}
}

func TestCLIErrors(t *testing.T) {
	c := startUp(t)
	bad := strings.Replace(podManifest, "  args:", "  argz:", 1)
	dir := t.TempDir()
	file := filepath.Join(dir, "pod.yaml")
	os.WriteFile(file, []byte(bad), 0o644)
	if _, errs, code := c.run("", "apply", "-f", file); code != 1 || !strings.Contains(errs, file+`:9: spec.argz: unknown field (did you mean "args"?)`) {
		t.Fatalf("apply of an unknown field: exit %d, %q", code, errs)
	}
	if _, errs, code := c.run("", "get", "gadgets"); code != 2 || !strings.Contains(errs, `unknown kind "gadgets"`) {
		t.Fatalf("get of an unknown kind: exit %d, %q", code, errs)
	}
	if _, errs, code := c.run("", "get", "pods", "--bogus"); code != 2 || !strings.Contains(errs, "unknown flag") {
		t.Fatalf("unknown flag: exit %d, %q", code, errs)
	}
	invalid := strings.Replace(podManifest, "mode: command", "mode: turbo", 1)
	if _, errs, code := c.run(invalid, "apply", "-f", "-"); code != 1 || !strings.Contains(errs, "spec.mode") {
		t.Fatalf("apply of an invalid mode: exit %d, %q", code, errs)
	}
	// A config pointing at nothing says which address to check.
	cfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(cfg, []byte("server: https://127.0.0.1:1\ntoken: x\n"), 0o600)
	nowhere := cli{t: t, config: cfg}
	if _, errs, code := nowhere.run("", "get", "pods"); code != 1 || !strings.Contains(errs, "cannot reach the apiserver at https://127.0.0.1:1") {
		t.Fatalf("unreachable server: exit %d, %q", code, errs)
	}
}
