package sandbox

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// probe runs the probe guest with args and returns its stdout, failing t
// unless it completed.
func probe(t *testing.T, s Spec, args ...string) string {
	t.Helper()
	s.Args = args
	exit, out, errOut := run(t, guest(t, "probe"), s)
	if exit.Reason != ReasonCompleted {
		t.Fatalf("probe %v: %+v\nstderr: %s", args, exit, errOut)
	}
	return out
}

func TestDeniesEnv(t *testing.T) {
	t.Setenv("WASK_HOST_SECRET", "leak")
	if out := probe(t, Spec{}, "env"); out != "env: \n" {
		t.Fatalf("no Env granted, guest sees %q", out)
	}
	out := probe(t, Spec{Env: map[string]string{"B": "2", "A": "1=x"}}, "env")
	if out != "env: A=1=x,B=2\n" {
		t.Fatalf("guest sees %q, want exactly A and B", out)
	}
	if out := probe(t, Spec{Name: "p1", Args: []string{"x"}}, "args"); out != "args: p1,args\n" {
		t.Fatalf("argv = %q", out)
	}
}

func TestDeniesFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "in.txt"), []byte("secret"), 0o644)
	hostFile := filepath.Join(dir, "in.txt")

	// No mounts: neither the host path nor any root is visible.
	out := probe(t, Spec{}, "read", hostFile, "read", "/data/in.txt", "ls", "/", "write", "/x", "y")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(line, "error:") {
			t.Errorf("no mounts granted, yet %q", line)
		}
	}

	// Read-only: reads work, writes do not, nothing outside the mount.
	ro := Spec{Mounts: []Mount{{HostPath: dir, GuestPath: "/data", ReadOnly: true}}}
	out = probe(t, ro, "read", "/data/in.txt", "write", "/data/new.txt", "x", "read", "/data/../../etc/passwd", "read", "/etc/passwd")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || lines[0] != "read: secret" || !strings.Contains(lines[1], "write: error:") ||
		!strings.Contains(lines[2], "read: error:") || !strings.Contains(lines[3], "read: error:") {
		t.Fatalf("read-only mount:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.txt")); err == nil {
		t.Fatal("a read-only mount let the guest create a file")
	}

	// Read-write, when granted.
	rw := Spec{Mounts: []Mount{{HostPath: dir, GuestPath: "/data"}}}
	if out := probe(t, rw, "write", "/data/new.txt", "hi"); out != "write: ok\n" {
		t.Fatalf("read-write mount: %q", out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "new.txt")); string(b) != "hi" {
		t.Fatalf("host file holds %q", b)
	}
}

func TestDeniesClock(t *testing.T) {
	// wazero's fake wall clock reads 2022-01-01T00:00:00Z.
	if out := probe(t, Spec{}, "time"); out != "time: 1640995200\n" {
		t.Fatalf("no Clock granted, guest reads %q", out)
	}
	// A fake-clock sleep does not wait: 10 s pass at once.
	start := time.Now()
	probe(t, Spec{}, "sleep", "10s")
	if time.Since(start) > 5*time.Second {
		t.Fatal("a guest without Clock slept for real")
	}
	out := probe(t, Spec{Clock: true}, "time")
	var got int64
	fmt.Sscanf(out, "time: %d", &got)
	if d := time.Since(time.Unix(got, 0)); d < -time.Minute || d > time.Minute {
		t.Fatalf("Clock granted, guest reads %q, now is %d", out, time.Now().Unix())
	}
}

func TestDeniesRandomness(t *testing.T) {
	a, b := probe(t, Spec{}, "rand"), probe(t, Spec{}, "rand")
	if a != b {
		t.Fatalf("no Random granted, yet two runs drew %q and %q", a, b)
	}
	c, d := probe(t, Spec{Random: true}, "rand"), probe(t, Spec{Random: true}, "rand")
	if c == d || c == a {
		t.Fatalf("Random granted, draws %q %q (ungranted %q)", c, d, a)
	}
}

func TestDeniesOutbound(t *testing.T) {
	out := probe(t, Spec{}, "get", "http://other.default/x")
	if !strings.Contains(out, "get: error:") || !strings.Contains(out, "outbound HTTP is not granted") {
		t.Fatalf("no Outbound granted: %q", out)
	}
	var seen *http.Request
	var seenBody string
	s := Spec{Outbound: func(ctx context.Context, req *http.Request) (*http.Response, error) {
		seen = req
		b, _ := io.ReadAll(req.Body)
		seenBody = string(b)
		return &http.Response{StatusCode: 201, Header: http.Header{"X-Test": {"yes"}}, Body: io.NopCloser(strings.NewReader("from mesh"))}, nil
	}}
	if out := probe(t, s, "get", "http://other.default/x?y=1"); out != "get: 201 yes from mesh\n" {
		t.Fatalf("Outbound granted: %q", out)
	}
	if seen == nil || seen.Method != "GET" || seen.URL.String() != "http://other.default/x?y=1" || seen.Host != "other.default" || seenBody != "" {
		t.Fatalf("Outbound saw %+v", seen)
	}
	s.Outbound = func(context.Context, *http.Request) (*http.Response, error) {
		return nil, fmt.Errorf("no endpoints for other.default")
	}
	if out := probe(t, s, "get", "http://other.default/"); !strings.Contains(out, "no endpoints for other.default") {
		t.Fatalf("Outbound error: %q", out)
	}
}

func TestHostLog(t *testing.T) {
	_, _, errOut := run(t, guest(t, "probe"), Spec{Args: []string{"log", "hi there"}})
	if errOut != "hi there\n" {
		t.Fatalf("stderr = %q", errOut)
	}
}
