package meshproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/testcluster"
)

// testNode is one "node" of an integration test: a proxy with its own
// fake pods, listening on loopback.
type testNode struct {
	name    string
	proxy   *Proxy
	pods    *fakePods
	ingress string // host:port
	mesh    string // host:port
	reg     *prometheus.Registry
	cancel  context.CancelFunc
	done    chan error
}

func testLogger() *slog.Logger {
	if os.Getenv("WASK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func startNode(t testing.TB, c *testcluster.Cluster, name string, mod func(*Config)) *testNode {
	t.Helper()
	certPEM, keyPEM, err := c.CA.IssueNodeCert(name, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{name: name, pods: &fakePods{}, ingress: lis.Addr().String(), mesh: udp.LocalAddr().String(), done: make(chan error, 1),
		reg: prometheus.NewRegistry()}
	cfg := Config{
		Client: c.NodeClient(t, name), NodeName: name, Local: n.pods,
		TLS:             NodeTLS{Cert: cert, CA: c.CA.Pool()},
		IngressListener: lis, MeshConn: udp,
		Registry: n.reg, Logger: testLogger().With("node", name),
		PeerTimeout: 2 * time.Second, RequestTimeout: 5 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	n.proxy, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.done <- n.proxy.Run(ctx) }()
	t.Cleanup(n.stop)
	return n
}

// stop ends the node's proxy and waits for Run to return.
func (n *testNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	if err := <-n.done; err != nil {
		panic("Run: " + err.Error())
	}
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not a wait for an event
	}
}

func get(t testing.TB, hc *http.Client, url, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", url, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// spreadService makes Service name in "default" with pod <name>-a on node
// a and pods <name>-b1 and <name>-b2 on node b (handlers made by pod), and
// waits until node a routes to all three.
func spreadService(t testing.TB, c *testcluster.Cluster, a, b *testNode, name string, pod func(name string) http.Handler) {
	t.Helper()
	a.pods.set("default", name+"-a", pod(name+"-a"))
	b.pods.set("default", name+"-b1", pod(name+"-b1"))
	b.pods.set("default", name+"-b2", pod(name+"-b2"))
	ctx := context.Background()
	if _, err := client.Create(ctx, c.Client, service("default", name, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Create(ctx, c.Client, endpoints("default", name,
		addr{name + "-a", a.name, a.mesh, true}, addr{name + "-b1", b.name, b.mesh, true}, addr{name + "-b2", b.name, b.mesh, true})); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node A's table to list 3 endpoints", func() bool {
		r := a.proxy.Table().Service("default", name)
		return r != nil && len(r.Endpoints) == 3
	})
}

// TestTwoNodes: requests at node A's ingress are served by pods on both
// nodes over real QUIC; a guest on A calls the Service through Outbound;
// when node B's proxy stops, its endpoints are marked down and traffic
// moves to A's pods.
func TestTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := testcluster.Start(t, testcluster.Options{})
	ctx := context.Background()
	a := startNode(t, c, "node-a", nil)
	b := startNode(t, c, "node-b", nil)
	spreadService(t, c, a, b, "echo", namedPod)

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer hc.CloseIdleConnections()
	served := map[string]int{}
	for range 300 {
		code, body := get(t, hc, "http://"+a.ingress+"/", "echo.default")
		if code != 200 {
			t.Fatalf("got %d %q", code, body)
		}
		pod, _, _ := strings.Cut(body, ":")
		served[pod]++
		if len(served) == 3 {
			break
		}
	}
	if len(served) != 3 {
		t.Fatalf("pods that served: %v; want echo-a, echo-b1 and echo-b2", served)
	}
	if code, body := get(t, hc, "http://"+a.ingress+"/default/echo/x", "a.example"); code != 200 {
		t.Fatalf("by path: %d %q", code, body)
	}
	if code, body := get(t, hc, "http://"+a.ingress+"/", "nope.default"); code != 404 || !strings.Contains(body, "no service") {
		t.Fatalf("unknown service: %d %q", code, body)
	}

	// A guest on node A calls the Service by name.
	call := a.proxy.Outbound("default", []*waskv1.OutboundService{{Service: "echo"}})
	seen := map[string]bool{}
	for range 300 {
		req, _ := http.NewRequest("POST", "http://echo.default/chain", strings.NewReader("ping"))
		resp, err := call(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		pod, rest, _ := strings.Cut(string(body), ":")
		if resp.StatusCode != 200 || rest != "ping" {
			t.Fatalf("outbound: %d %q", resp.StatusCode, body)
		}
		seen[pod] = true
		if len(seen) == 3 {
			break
		}
	}
	if len(seen) != 3 {
		t.Errorf("outbound reached %v; want all three pods", seen)
	}
	req, _ := http.NewRequest("GET", "http://other.default/", nil)
	if _, err := call(ctx, req); !errors.Is(err, ErrOutboundDenied) {
		t.Errorf("outbound to an unlisted service: err = %v; want ErrOutboundDenied", err)
	}

	// A service chain across nodes: ingress on A → "front" pod on B → a
	// guest call from B to "echo" → a pod on A or B.
	callFromB := b.proxy.Outbound("default", []*waskv1.OutboundService{{Service: "echo", Namespace: "default"}})
	b.pods.set("default", "front-b", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), "GET", "http://echo/", nil) // own namespace
		resp, err := callFromB(r.Context(), req)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Fprintf(w, "front-b>%s", body)
	}))
	if _, err := client.Create(ctx, c.Client, service("default", "front", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Create(ctx, c.Client, endpoints("default", "front", addr{"front-b", "node-b", b.mesh, true})); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node A to route front", func() bool {
		r := a.proxy.Table().Service("default", "front")
		return r != nil && len(r.Endpoints) == 1
	})
	eventually(t, "node B to route front and echo", func() bool {
		r := b.proxy.Table().Service("default", "echo")
		return b.proxy.Table().Service("default", "front") != nil && r != nil && len(r.Endpoints) == 3
	})
	chained := map[string]bool{}
	for range 300 {
		code, body := get(t, hc, "http://"+a.ingress+"/", "front.default")
		if code != 200 || !strings.HasPrefix(body, "front-b>echo-") {
			t.Fatalf("chain: %d %q", code, body)
		}
		pod, _, _ := strings.Cut(strings.TrimPrefix(body, "front-b>"), ":")
		chained[pod] = true
		if len(chained) == 3 {
			break
		}
	}
	if !chained["echo-a"] || len(chained) != 3 {
		t.Errorf("the chain through node B reached %v; want all three echo pods (A→B→A included)", chained)
	}

	// Node B goes away: A marks it down and serves from its own pod.
	b.stop()
	eventually(t, "node B marked down on A", func() bool { return a.proxy.fwd.down(b.mesh) })
	if n, err := testutil.GatherAndCount(a.reg, "wask_mesh_peers_down"); err != nil || n != 1 {
		t.Errorf("wask_mesh_peers_down series: %d, %v", n, err)
	}
	if got := a.proxy.tunnel.Load().downCount(); got != 1 {
		t.Errorf("peers down on A = %d, want 1", got)
	}
	for i := range 50 {
		code, body := get(t, hc, "http://"+a.ingress+"/", "echo.default")
		if code != 200 || !strings.HasPrefix(body, "echo-a:") {
			t.Fatalf("request %d after node B stopped: %d %q; want echo-a", i, code, body)
		}
	}

	// An Endpoints change reaches the table.
	ep, err := client.Get[*waskv1.Endpoints](ctx, c.Client, "default", "echo")
	if err != nil {
		t.Fatal(err)
	}
	ep.Addresses = ep.Addresses[:1]
	if _, err := client.Update(ctx, c.Client, ep); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Delete[*waskv1.Endpoints](ctx, c.Client, "default", "front", nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node A's table to drop node B's endpoints", func() bool {
		return len(a.proxy.Table().Service("default", "echo").Endpoints) == 1
	})
	eventually(t, "node A to stop probing node B", func() bool {
		tc := a.proxy.tunnel.Load()
		tc.mu.Lock()
		defer tc.mu.Unlock()
		return tc.peers[b.mesh] == nil
	})
}

func TestNewRequiresFields(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "Client: required"},
		{Config{Client: &client.Client{}}, "NodeName: required"},
		{Config{Client: &client.Client{}, NodeName: "n"}, "Local: required"},
		{Config{Client: &client.Client{}, NodeName: "n", Local: &fakePods{}}, "TLS.Cert: required"},
	} {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v; want an error naming %q", tt.cfg, err, tt.want)
		}
	}
}

// TestNodeStopsUnderLoad: node B's proxy stops while node A's ingress is
// under load for a Service with pods on both: requests in flight to B
// finish (B drains), new ones go to A, and no request fails.
func TestNodeStopsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := testcluster.Start(t, testcluster.Options{})
	a := startNode(t, c, "node-a", nil)
	b := startNode(t, c, "node-b", nil)
	slow := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(2 * time.Millisecond): // a pod that takes a while: requests are in flight
			case <-r.Context().Done():
			}
			io.WriteString(w, name+":")
		})
	}
	spreadService(t, c, a, b, "web", slow)

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer hc.CloseIdleConnections()
	type result struct {
		code      int
		body      string
		err       error
		afterStop bool // the request started after node B's Run returned
	}
	var stopped atomic.Bool
	stopLoad := make(chan struct{})
	results := make(chan result, 1<<16)
	var workers sync.WaitGroup
	for range 8 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				afterStop := stopped.Load()
				req, _ := http.NewRequest("GET", "http://"+a.ingress+"/", nil)
				req.Host = "web.default"
				resp, err := hc.Do(req)
				if err != nil {
					results <- result{err: err, afterStop: afterStop}
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				results <- result{code: resp.StatusCode, body: string(body), afterStop: afterStop}
			}
		}()
	}
	servedBy := func(prefix string) func() bool {
		return func() bool {
			for {
				select {
				case r := <-results:
					if r.err == nil && strings.HasPrefix(r.body, prefix) {
						return true
					}
					if r.err != nil || r.code != 200 {
						t.Errorf("before the stop: %d %q %v", r.code, r.body, r.err)
					}
				default:
					return false
				}
			}
		}
	}
	eventually(t, "node B to serve under load", servedBy("web-b"))
	b.stop()
	stopped.Store(true)
	if !a.proxy.fwd.down(b.mesh) {
		t.Error("node B is not marked down right after its proxy stopped")
	}
	// Keep the load on for a moment after B is gone, then stop it.
	after := 0
	eventually(t, "200 requests after node B stopped", func() bool {
		for {
			select {
			case r := <-results:
				if r.err != nil || r.code != 200 {
					t.Errorf("a request failed around node B's stop: %d %q %v", r.code, r.body, r.err)
				} else if r.afterStop && !strings.HasPrefix(r.body, "web-a") {
					t.Errorf("served by %q after node B stopped", r.body)
				}
				if r.afterStop {
					after++
				}
			default:
				return after >= 200
			}
		}
	})
	close(stopLoad)
	workers.Wait()
	close(results)
	for r := range results {
		if r.err != nil || r.code != 200 || (r.afterStop && !strings.HasPrefix(r.body, "web-a")) {
			t.Errorf("late result: %d %q %v", r.code, r.body, r.err)
		}
	}
}

// TestThreeNodes: with a pod on each of three nodes, every node's ingress
// reaches all three pods (each node dials the two others).
func TestThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := testcluster.Start(t, testcluster.Options{})
	nodes := []*testNode{startNode(t, c, "node-a", nil), startNode(t, c, "node-b", nil), startNode(t, c, "node-c", nil)}
	var addrs []addr
	for _, n := range nodes {
		pod := "web-" + strings.TrimPrefix(n.name, "node-")
		n.pods.set("default", pod, namedPod(pod))
		addrs = append(addrs, addr{pod, n.name, n.mesh, true})
	}
	ctx := context.Background()
	if _, err := client.Create(ctx, c.Client, service("default", "web", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Create(ctx, c.Client, endpoints("default", "web", addrs...)); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	for _, n := range nodes {
		eventually(t, n.name+" to route to 3 endpoints", func() bool {
			r := n.proxy.Table().Service("default", "web")
			return r != nil && len(r.Endpoints) == 3
		})
		served := map[string]bool{}
		for range 300 {
			code, body := get(t, hc, "http://"+n.ingress+"/default/web/", "x.example")
			if code != 200 {
				t.Fatalf("%s: %d %q", n.name, code, body)
			}
			pod, _, _ := strings.Cut(body, ":")
			if served[pod] = true; len(served) == 3 {
				break
			}
		}
		if len(served) != 3 {
			t.Errorf("%s's ingress reached %v; want web-a, web-b and web-c", n.name, served)
		}
	}
}
