package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeAddress waits for node (or the only node, if node is "") to publish
// an address of type typ and returns it.
func (c cli) nodeAddress(node, typ string) string {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list struct {
			Items []struct {
				Metadata struct{ Name string }
				Status   struct {
					Addresses []struct{ Type, Address string }
				}
			}
		}
		if err := json.Unmarshal([]byte(c.ok("", "get", "nodes", "-o", "json")), &list); err != nil {
			c.t.Fatal(err)
		}
		for _, n := range list.Items {
			if node != "" && n.Metadata.Name != node {
				continue
			}
			for _, a := range n.Status.Addresses {
				if a.Type == typ {
					return a.Address
				}
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no node %q published a %s address within 30s", node, typ)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// get sends GET http://addr/path with the Host header host and returns
// the status and body (0 and the error text if it could not be sent).
func get(addr, host, path string) (int, string) {
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	if err != nil {
		return 0, err.Error()
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, string(b)
}

// waitServed waits for GET host/path at addr to answer 200 and returns the body.
func waitServed(t *testing.T, addr, host, path string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, body := get(addr, host, path)
		if code == http.StatusOK {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET http://%s%s (Host %s) never answered 200 within 2m; last: %d %s", addr, path, host, code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUpIngressServesService: the node of wask up routes Service traffic
// from its ingress to the Service's pods, by Host and by path.
func TestUpIngressServesService(t *testing.T) {
	c := startUp(t)
	ingress := c.nodeAddress("", "Ingress")
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "tiny.wasm"), sampleWasm(t, "tiny"), 0o644)
	manifest, err := os.ReadFile(filepath.Join("..", "..", "wasm-samples", "tiny", "tiny.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(work, "tiny.yaml"), manifest, 0o644)
	c.ok("", "apply", "-f", filepath.Join(work, "tiny.yaml"))

	if body := waitServed(t, ingress, "tiny.default", "/"); body != "hello from tiny\n" {
		t.Errorf("GET tiny.default/ = %q", body)
	}
	if code, body := get(ingress, "127.0.0.1", "/default/tiny/x"); code != http.StatusOK || body != "hello from tiny\n" {
		t.Errorf("GET /default/tiny/x = %d %q", code, body)
	}
	if code, body := get(ingress, "nope.default", "/"); code != http.StatusNotFound || !strings.Contains(body, "no service") {
		t.Errorf("GET nope.default/ = %d %q, want 404 naming the missing service", code, body)
	}
	c.ok("", "scale", "deployment/tiny", "--replicas", "0")
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := get(ingress, "tiny.default", "/")
		if code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET tiny.default/ with no replicas = %d %q, want 503 within 1m", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBenchHTTPLoadsAService: `wask bench http --service` sends its load
// through the node's ingress and reports it.
func TestBenchHTTPLoadsAService(t *testing.T) {
	c := startUp(t)
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "tiny.wasm"), sampleWasm(t, "tiny"), 0o644)
	manifest, _ := os.ReadFile(filepath.Join("..", "..", "wasm-samples", "tiny", "tiny.yaml"))
	os.WriteFile(filepath.Join(work, "tiny.yaml"), manifest, 0o644)
	c.ok("", "apply", "-f", filepath.Join(work, "tiny.yaml"))
	waitServed(t, c.nodeAddress("", "Ingress"), "tiny.default", "/")
	out := c.ok("", "bench", "http", "--service", "tiny", "--rps", "200", "--duration", "1s")
	if !strings.Contains(out, "sent 200, ok 200, failed 0") || !strings.Contains(out, "latency p50") {
		t.Errorf("wask bench http:\n%s", out)
	}
}
