package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// startUp runs `wask up` in-process on a fresh data dir, with extra flags,
// and returns a CLI bound to its admin config.
func startUp(t *testing.T, flags ...string) cli {
	t.Helper()
	dataDir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"up", "--data-dir", dataDir, "--api-addr", "127.0.0.1:0",
			"--ingress-addr", "127.0.0.1:0", "--mesh-addr", "127.0.0.1:0", "--log-level", "warn"}, flags...), nil, &out, &errb)
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
	c := startUp(t, "--no-scheduler") // the pod stays as created, without the scheduler's report
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

func TestCLIPushAndApplyLocalModule(t *testing.T) {
	c := startUp(t)
	wasm, err := os.ReadFile(filepath.Join("..", "..", "wasmlet", "sandbox", "testdata", "reactor.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(wasm)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}

	out := c.ok("", "push", filepath.Join(dir, "app.wasm"), "--name", "app")
	if !strings.HasPrefix(out, "module/app pushed ("+digest+", ") {
		t.Fatalf("push: %q", out)
	}
	if out := c.ok("", "get", "modules", "-o", "name"); out != "module/app\n" {
		t.Fatalf("get modules: %q", out)
	}
	y := c.ok("", "get", "module", "app", "-o", "yaml")
	if !strings.Contains(y, "digest: "+digest) || !strings.Contains(y, "http-reactor") {
		t.Fatalf("get module -o yaml:\n%s", y)
	}

	// A manifest naming a local file pushes it and refers to its digest;
	// the path is relative to the manifest.
	manifest := filepath.Join(dir, "pod.yaml")
	if err := os.WriteFile(manifest, []byte(strings.Replace(podManifest, "module: "+strings.Fields(podManifest[strings.Index(podManifest, "module: "):])[1], "module: ./app.wasm", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := c.ok("", "apply", "-f", manifest); out != "pod/hello created\n" {
		t.Fatalf("apply: %q", out)
	}
	if out := c.ok("", "get", "pod", "hello", "-o", "yaml"); !strings.Contains(out, "  module: "+digest+"\n") {
		t.Fatalf("the pod does not refer to the pushed module %s:\n%s", digest, out)
	}
	if out := c.ok("", "apply", "-f", manifest); out != "pod/hello unchanged\n" {
		t.Fatalf("second apply: %q", out)
	}

	// Bytes that are not a module are refused, and nothing is recorded.
	if err := os.WriteFile(filepath.Join(dir, "bad.wasm"), []byte("not wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := c.run("", "push", filepath.Join(dir, "bad.wasm"), "--name", "bad"); code != 1 || !strings.Contains(errs, "bad.wasm") {
		t.Fatalf("push of a bad module: exit %d, %q", code, errs)
	}
	// The apply's push recorded the module under its digest too.
	want := "module/app\nmodule/sha256-" + hex.EncodeToString(sum[:]) + "\n"
	if out := c.ok("", "get", "modules", "-o", "name"); out != want {
		t.Fatalf("get modules after a refused push: %q, want %q", out, want)
	}
}
