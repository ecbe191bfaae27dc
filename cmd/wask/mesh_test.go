package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wask-dev/wask/meshproxy"
	"github.com/wask-dev/wask/wasmlet"
)

// nodeProcess is a `wask node` in a process of its own: the test binary
// re-executed as wask (TestMain).
type nodeProcess struct {
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startNodeProcess starts node name joining the control plane whose data
// dir is serverDir; it is killed when the test ends, if still running.
func startNodeProcess(t *testing.T, serverURL, serverDir, name string) *nodeProcess {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	n := &nodeProcess{name: name, out: &lockedBuffer{}, done: make(chan struct{})}
	n.cmd = exec.Command(exe, "node", "--server", serverURL, "--join-token-file", filepath.Join(serverDir, "node-token"),
		"--name", name, "--data-dir", t.TempDir(), "--ingress-addr", "127.0.0.1:0", "--mesh-addr", "127.0.0.1:0",
		"--log-level", "warn", "--drain-timeout", "5s")
	n.cmd.Env = append(os.Environ(), envRunAsWask+"=1")
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(30 * time.Second):
			n.cmd.Process.Kill()
			<-n.done
		}
		if t.Failed() {
			t.Logf("node %s output:\n%s", name, n.out.String())
		}
	})
	return n
}

// kill ends the node at once, as a crash does.
func (n *nodeProcess) kill() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

// meshCluster is a control plane in this process and nodes in others.
type meshCluster struct {
	c     cli
	nodes []*nodeProcess
	work  string
}

func startMeshCluster(t *testing.T, nodes ...string) *meshCluster {
	t.Helper()
	serverDir, config, cfg := startServer(t)
	m := &meshCluster{c: cli{t: t, config: config}, work: t.TempDir()}
	for _, name := range nodes {
		m.nodes = append(m.nodes, startNodeProcess(t, cfg.Server, serverDir, name))
	}
	return m
}

// apply writes manifest to the work dir (beside the modules it names) and applies it.
func (m *meshCluster) apply(manifest string) {
	m.c.t.Helper()
	f := filepath.Join(m.work, fmt.Sprintf("m%d.yaml", time.Now().UnixNano()))
	os.WriteFile(f, []byte(manifest), 0o644)
	m.c.ok("", "apply", "-f", f)
}

// echoPods is a Service echo and one echo pod on each node.
func (m *meshCluster) deployEcho(t *testing.T) {
	os.WriteFile(filepath.Join(m.work, "echo.wasm"), sampleWasm(t, "echo"), 0o644)
	var b strings.Builder
	b.WriteString("apiVersion: wask.dev/v1\nkind: Service\nmetadata: {name: echo}\nspec: {selector: {app: echo}}\n")
	for _, n := range m.nodes {
		fmt.Fprintf(&b, `---
apiVersion: wask.dev/v1
kind: Pod
metadata: {name: echo-%[1]s, labels: {app: echo}}
spec:
  module: ./echo.wasm
  mode: http-reactor
  nodeName: %[1]s
  resources: {limits: {memory: 64Mi, timeout: 5s}}
`, n.name)
	}
	m.apply(b.String())
}

// servedBy sends requests to ingress until every node in want has
// answered, and fails after a deadline.
func servedBy(t *testing.T, ingress, host string, want []*nodeProcess) {
	t.Helper()
	seen := map[string]bool{}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		code, body := get(ingress, host, "/")
		if code == http.StatusOK {
			for _, line := range strings.Split(body, "\n") {
				if node, ok := strings.CutPrefix(line, "node: "); ok {
					seen[node] = true
				}
			}
		}
		all := true
		for _, n := range want {
			all = all && seen[n.name]
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("requests to %s (Host %s) reached only nodes %v within 3m; last: %d %q", ingress, host, seen, code, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMeshAcrossNodeProcesses runs three `wask node` processes: requests at
// one node's ingress reach the pods on every node, a guest's call to
// another Service crosses nodes (a service chain), and a node killed under
// load loses at most the requests in flight to it.
func TestMeshAcrossNodeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three node processes")
	}
	m := startMeshCluster(t, "n1", "n2", "n3")
	m.deployEcho(t)
	ingress := m.c.nodeAddress("n1", "Ingress")
	servedBy(t, ingress, "echo.default", m.nodes)

	// A service chain: chain on n2 calls echo, wherever it runs.
	os.WriteFile(filepath.Join(m.work, "chain.wasm"), sampleWasm(t, "chain"), 0o644)
	m.apply(`apiVersion: wask.dev/v1
kind: Service
metadata: {name: chain}
spec: {selector: {app: chain}}
---
apiVersion: wask.dev/v1
kind: Pod
metadata: {name: chain, labels: {app: chain}}
spec:
  module: ./chain.wasm
  mode: http-reactor
  nodeName: n2
  outbound: [{service: echo}]
  resources: {limits: {memory: 64Mi, timeout: 5s}}
`)
	body := waitServed(t, ingress, "chain.default", "/via/chain")
	if !strings.Contains(body, "chain: chain on n2\n") || !strings.Contains(body, "path: /via/chain\n") {
		t.Errorf("chain answered %q; want chain's line and echo's answer", body)
	}

	// Kill n3 under steady load through n1's ingress.
	const workers = 4
	l := startLoad(t, ingress, "echo.default", workers)
	l.waitOK(200)
	m.nodes[2].kill()
	killedAt := time.Now()
	// The node-failure time: the lease grace (3 s) and the pods'
	// toleration (2 s), then the endpoints change; 30 s is ample.
	deadline := killedAt.Add(30 * time.Second)
	for strings.Contains(m.c.ok("", "get", "endpoints", "echo", "-o", "yaml"), "nodeName: n3") {
		if time.Now().After(deadline) {
			t.Fatalf("n3's endpoint still listed 30s after n3 was killed:\n%s", m.c.ok("", "get", "endpoints", "echo", "-o", "yaml"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	movedAt := time.Now()
	l.waitOK(l.ok.Load() + 200)
	failures := l.stop()
	if len(failures) > workers {
		t.Errorf("%d requests failed when n3 was killed; want at most the %d in flight: %v", len(failures), workers, failures)
	}
	for _, f := range failures {
		if f.start.After(movedAt) {
			t.Errorf("a request sent %v after n3's endpoint was removed failed: %s", f.start.Sub(movedAt), f.err)
		}
	}
	t.Logf("n3 killed under load: %d ok, %d failed; endpoint removed %v after the kill", l.ok.Load(), len(failures), movedAt.Sub(killedAt).Round(time.Millisecond))
	servedBy(t, ingress, "echo.default", m.nodes[:2])
}

// failure is a request that failed under load: when it was sent and what came back.
type failure struct {
	start time.Time
	err   string
}

// load sends GET requests to one Service through an ingress from several
// workers until stopped, and records what failed.
type load struct {
	t        *testing.T
	ok       atomic.Int64
	mu       sync.Mutex
	failures []failure
	done     chan struct{}
	wg       sync.WaitGroup
}

func startLoad(t *testing.T, ingress, host string, workers int) *load {
	l := &load{t: t, done: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.done:
					return
				default:
				}
				start := time.Now()
				if code, body := get(ingress, host, "/"); code == http.StatusOK {
					l.ok.Add(1)
				} else {
					l.mu.Lock()
					l.failures = append(l.failures, failure{start, fmt.Sprintf("%d %s", code, body)})
					l.mu.Unlock()
				}
			}
		}()
	}
	t.Cleanup(func() { l.stop() })
	return l
}

// waitOK waits for n successful requests in all.
func (l *load) waitOK(n int64) {
	l.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for l.ok.Load() < n {
		if time.Now().After(deadline) {
			l.t.Fatalf("load reached %d successes, not %d, within 1m", l.ok.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// stop ends the load and returns its failures.
func (l *load) stop() []failure {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failures
}

// TestMeshRollingUpdateLosesNothing: a Deployment rolled out under steady
// load through the ingress, with its pods on two node processes, fails no
// request.
func TestMeshRollingUpdateLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two node processes")
	}
	m := startMeshCluster(t, "n1", "n2")
	os.WriteFile(filepath.Join(m.work, "echo.wasm"), sampleWasm(t, "echo"), 0o644)
	deployment := func(version string) string {
		return `apiVersion: wask.dev/v1
kind: Service
metadata: {name: echo}
spec: {selector: {app: echo}}
---
apiVersion: wask.dev/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: 4
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      module: ./echo.wasm
      mode: http-reactor
      env: [{name: VERSION, value: "` + version + `"}]
      readinessProbe: {httpGet: {path: /ready}}
      resources: {limits: {memory: 64Mi, timeout: 5s}}
`
	}
	m.apply(deployment("1"))
	ingress := m.c.nodeAddress("n1", "Ingress")
	waitServed(t, ingress, "echo.default", "/")
	m.c.ok("", "rollout", "status", "deployment/echo")
	l := startLoad(t, ingress, "echo.default", 4)
	l.waitOK(200)
	m.apply(deployment("2"))
	m.c.ok("", "rollout", "status", "deployment/echo")
	l.waitOK(l.ok.Load() + 200)
	if failures := l.stop(); len(failures) > 0 {
		t.Errorf("%d of %d requests failed during the rolling update: %v", len(failures), l.ok.Load()+int64(len(failures)), failures)
	}
	t.Logf("rolling update under load: %d requests, none failed", l.ok.Load())
}

// TestNotReachedHeaderAgrees: the wasmlet marks its own refusals with the
// header the meshproxy retries on (neither package imports the other).
func TestNotReachedHeaderAgrees(t *testing.T) {
	if wasmlet.InvokeErrorHeader != meshproxy.HeaderNotReached {
		t.Errorf("wasmlet.InvokeErrorHeader %q != meshproxy.HeaderNotReached %q", wasmlet.InvokeErrorHeader, meshproxy.HeaderNotReached)
	}
}
