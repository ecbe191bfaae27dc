package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/pki"
)

// tlsServer serves with a certificate of ca, sending chained after it.
func tlsServer(t *testing.T, ca *pki.CA, chained *pki.CA) string {
	t.Helper()
	now := time.Now()
	certPEM, keyPEM, err := ca.Issue(pki.CertRequest{CommonName: "test", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true, Validity: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if chained != nil {
		cert.Certificate = append(cert.Certificate, chained.Cert.Raw)
	}
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestDiscoverCA(t *testing.T) {
	ca, err := pki.NewCA("test-ca", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("other-ca", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	url := tlsServer(t, ca, ca)
	got, err := discoverCA(ctx, url, ca.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, ca.CertPEM) {
		t.Errorf("discoverCA returned another certificate:\n%s", got)
	}
	if _, err := discoverCA(ctx, url, other.Hash()); err == nil || !strings.Contains(err.Error(), "not the cluster the join token names") {
		t.Errorf("discoverCA with another cluster's hash: %v", err)
	}
	// A server of another CA that sends our CA's certificate along (a
	// copy is public) must not pass: its own certificate does not check.
	impostor := tlsServer(t, other, ca)
	if _, err := discoverCA(ctx, impostor, ca.Hash()); err == nil {
		t.Error("discoverCA trusted a server without the CA in its chain")
	}
	if _, err := discoverCA(ctx, "http://127.0.0.1:1", ca.Hash()); err == nil {
		t.Error("discoverCA accepted an http:// URL")
	}
}

// startDaemon runs a wask daemon command in-process until the test ends.
func startDaemon(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, nil, io.Discard, &errb) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("wask %s exited %d: %s", args[0], code, errb.String())
		}
	})
}

// waitFile waits for a daemon to write path.
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written within 20s", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startServer runs `wask server` in-process on a fresh data dir and
// returns that dir, the path of its admin config, and the config.
func startServer(t *testing.T) (dir, config string, cfg client.Config) {
	t.Helper()
	dir = t.TempDir()
	startDaemon(t, "server", "--data-dir", dir, "--api-addr", "127.0.0.1:0", "--log-level", "warn")
	config = filepath.Join(dir, "admin.yaml")
	waitFile(t, config)
	cfg, err := client.LoadConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	return dir, config, cfg
}

func TestServerAndNodeRunHello(t *testing.T) {
	nodeDir, work := t.TempDir(), t.TempDir()
	serverDir, config, cfg := startServer(t)
	startDaemon(t, "node", "--server", cfg.Server, "--join-token-file", filepath.Join(serverDir, "node-token"),
		"--name", "n1", "--data-dir", nodeDir, "--ingress-addr", "127.0.0.1:0", "--mesh-addr", "127.0.0.1:0", "--log-level", "warn")

	os.WriteFile(filepath.Join(work, "hello.wasm"), sampleWasm(t, "hello"), 0o644)
	manifest := filepath.Join(work, "hello.yaml")
	os.WriteFile(manifest, []byte(`apiVersion: wask.dev/v1
kind: Pod
metadata: {name: hello}
spec:
  module: ./hello.wasm
  mode: command
  restartPolicy: Never
  nodeName: n1
  args: [world]
`), 0o644)
	c := cli{t: t, config: config}
	c.ok("", "apply", "-f", manifest)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out := c.ok("", "get", "pods")
		if strings.Contains(out, "Succeeded") || strings.Contains(out, "Completed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hello did not finish within 2m:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := c.ok("", "logs", "hello"); !strings.Contains(out, "hello, world") {
		t.Errorf("wask logs hello = %q", out)
	}
	if out := c.ok("", "logs", "--tail", "1", "hello"); strings.Count(out, "\n") != 1 {
		t.Errorf("wask logs --tail 1 hello = %q", out)
	}
	if _, errs, code := c.run("", "logs", "--previous", "hello"); code != 1 || !strings.Contains(errs, "no previous run") {
		t.Errorf("wask logs --previous of a pod that never restarted: exit %d %q", code, errs)
	}
	if out := c.ok("", "get", "nodes"); !strings.Contains(out, "n1") {
		t.Errorf("get nodes:\n%s", out)
	}
}

// TestUpTour follows the README's tour: wask up runs a node, and a pod
// naming it runs there and shows its logs.
func TestUpTour(t *testing.T) {
	c := startUp(t)
	var node string
	deadline := time.Now().Add(20 * time.Second)
	for node == "" {
		out := strings.TrimSpace(c.ok("", "get", "nodes", "-o", "name"))
		node = strings.TrimPrefix(out, "node/")
		if time.Now().After(deadline) {
			t.Fatal("wask up registered no node within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if node != defaultNodeName() {
		t.Errorf("the node of wask up is %q, want %q", node, defaultNodeName())
	}
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "hello.wasm"), sampleWasm(t, "hello"), 0o644)
	manifest := filepath.Join(work, "hello.yaml")
	os.WriteFile(manifest, []byte(`apiVersion: wask.dev/v1
kind: Pod
metadata: {name: hello, labels: {app: hello}}
spec:
  module: ./hello.wasm
  mode: command
  restartPolicy: Never
  nodeName: `+node+`
  args: [wask]
`), 0o644)
	if out := c.ok("", "apply", "-f", manifest); out != "pod/hello created\n" {
		t.Fatalf("apply: %q", out)
	}
	deadline = time.Now().Add(2 * time.Minute)
	for !strings.Contains(c.ok("", "get", "pod", "hello", "-o", "yaml"), "phase: Succeeded") {
		if time.Now().After(deadline) {
			t.Fatalf("hello did not succeed within 2m:\n%s", c.ok("", "get", "pod", "hello", "-o", "yaml"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := c.ok("", "logs", "hello"); out != "hello, wask, from hello\n" {
		t.Errorf("wask logs hello = %q", out)
	}
	c.ok("", "delete", "pod", "hello")
}
