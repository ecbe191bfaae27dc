package meshproxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/quic-go/quic-go"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"

	"github.com/wask-dev/wask/internal/pki"
)

// testPKI is a cluster CA for tests.
type testPKI struct{ ca *pki.CA }

func newTestPKI(t testing.TB) testPKI {
	ca, err := pki.NewCA("test-ca", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{ca}
}

func (p testPKI) node(t testing.TB, name string) NodeTLS {
	certPEM, keyPEM, err := p.ca.IssueNodeCert(name, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return NodeTLS{Cert: cert, CA: p.ca.Pool()}
}

// tunnelNode is one node's tunnel: a UDP socket that both listens and
// dials, a server calling local, and a client.
type tunnelNode struct {
	addr   string
	client *tunnelClient
	cancel context.CancelFunc
	done   chan struct{}
}

func startTunnelNode(t testing.TB, nt NodeTLS, addr string, local Local) *tunnelNode {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	udp, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp}
	qc := quicConfig(5 * time.Second)
	ln, err := tr.Listen(nt.serverTLS(), qc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &tunnelNode{addr: udp.LocalAddr().String(), cancel: cancel, done: make(chan struct{})}
	n.client = newTunnelClient(tr, nt, qc, 2*time.Second, func(string) bool { return true }, slog.New(slog.DiscardHandler))
	srv := &tunnelServer{local: local, logger: slog.New(slog.DiscardHandler), grace: 5 * time.Second}
	go func() {
		defer close(n.done)
		srv.serve(ctx, ln)
		n.client.close()
		ln.Close()
		tr.Close()
		udp.Close()
	}()
	t.Cleanup(n.stop)
	return n
}

func (n *tunnelNode) stop() {
	n.cancel()
	<-n.done
}

func TestTunnelRoundTrip(t *testing.T) {
	p := newTestPKI(t)
	pods := &fakePods{}
	pods.set("ns", "pod-b", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Seen", r.Method+" "+r.Host+" "+r.URL.RequestURI()+" "+r.Header.Get("X-Test")+" "+r.RemoteAddr)
		if r.URL.Path == "/big" {
			w.Write(bytes.Repeat([]byte("x"), 1<<20))
			return
		}
		if r.URL.Path == "/short" { // promises more than it sends
			w.Header().Set("Content-Length", "10")
			w.Write([]byte("abc"))
			return
		}
		w.WriteHeader(201)
		w.Write(body)
	}))
	b := startTunnelNode(t, p.node(t, "node-b"), "", pods)
	a := startTunnelNode(t, p.node(t, "node-a"), "", &fakePods{})
	e := &Endpoint{Namespace: "ns", Pod: "pod-b", Node: "node-b", Address: b.addr}

	req, _ := http.NewRequest("POST", "http://svc.ns/p?q=1", strings.NewReader("hello"))
	req.Header.Set("X-Test", "v")
	req.RemoteAddr = "192.0.2.1:5"
	resp, err := a.client.RoundTrip(context.Background(), e, req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(body) != "hello" || resp.ContentLength != 5 || resp.Header.Get("Seen") != "POST svc.ns /p?q=1 v 192.0.2.1:5" {
		t.Errorf("got %d %q (length %d) seen %q", resp.StatusCode, body, resp.ContentLength, resp.Header.Get("Seen"))
	}

	req, _ = http.NewRequest("GET", "http://svc.ns/big", nil)
	resp, err = a.client.RoundTrip(context.Background(), e, req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 1<<20 || resp.ContentLength != -1 {
		t.Errorf("big: got %d, %d bytes, length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
	req, _ = http.NewRequest("GET", "http://svc.ns/short", nil)
	resp, err = a.client.RoundTrip(context.Background(), e, req)
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "abc" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a body cut short of its Content-Length: read %q, %v; want \"abc\", unexpected EOF", body, err)
	}
	// One pooled connection for all requests.
	if n := len(a.client.peers); n != 1 {
		t.Errorf("%d peer connections, want 1", n)
	}
}

// TestTunnelRefusesBadCertificates: only a peer with a node certificate of
// the cluster CA gets a request to a pod.
func TestTunnelRefusesBadCertificates(t *testing.T) {
	p := newTestPKI(t)
	var invoked atomic.Int64
	b := startTunnelNode(t, p.node(t, "node-b"), "", LocalFunc(func(ctx context.Context, ns, pod string, w http.ResponseWriter, r *http.Request) {
		invoked.Add(1)
	}))
	other := newTestPKI(t)
	// A certificate of the cluster CA that is not a node's (no node organization).
	nonNodePEM, nonNodeKey, err := p.ca.Issue(pki.CertRequest{CommonName: "node-x", DNSNames: []string{"node-x"}, Client: true, Server: true, Validity: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	nonNode, _ := tls.X509KeyPair(nonNodePEM, nonNodeKey)
	tests := []struct {
		name string
		tls  *tls.Config
	}{
		{"no certificate", &tls.Config{RootCAs: p.ca.Pool(), ServerName: "node-b", NextProtos: []string{meshALPN}}},
		{"another CA", other.node(t, "node-x").clientTLS("node-b")},
		{"not a node certificate", &tls.Config{Certificates: []tls.Certificate{nonNode}, RootCAs: p.ca.Pool(), ServerName: "node-b", NextProtos: []string{meshALPN}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.tls.MinVersion = tls.VersionTLS13
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn, err := quic.DialAddr(ctx, b.addr, tt.tls, &quic.Config{})
			if err == nil {
				// TLS 1.3: the client may finish before the server rejects its certificate.
				str, serr := conn.OpenStreamSync(ctx)
				if serr == nil {
					head := (&requestHead{Namespace: "ns", Pod: "p", Method: "GET", RequestURI: "/", Host: "h"}).appendTo(nil)
					str.Write(frame(head))
					str.Close()
					_, serr = io.ReadAll(str)
				}
				err = serr
				conn.CloseWithError(0, "")
			}
			var te *quic.TransportError
			if err == nil || !errors.As(err, &te) {
				t.Fatalf("request with %s: err = %v; want the handshake refused", tt.name, err)
			}
		})
	}
	// The client side refuses a server whose certificate names another node.
	a := startTunnelNode(t, p.node(t, "node-a"), "", &fakePods{})
	req, _ := http.NewRequest("GET", "http://svc.ns/", nil)
	_, err = a.client.RoundTrip(context.Background(), &Endpoint{Namespace: "ns", Pod: "p", Node: "node-c", Address: b.addr}, req)
	if !errors.Is(err, errNotReached) || !strings.Contains(err.Error(), "node-c") {
		t.Errorf("dial node-c at node-b's address: err = %v; want not reached", err)
	}
	if n := invoked.Load(); n != 0 {
		t.Errorf("a pod was invoked %d times by refused peers", n)
	}
}

// TestTunnelPeerDownAndBack: when a peer's proxy stops, its address is
// marked down at once; when it is back on the same address, it recovers.
func TestTunnelPeerDownAndBack(t *testing.T) {
	p := newTestPKI(t)
	pods := &fakePods{}
	pods.set("ns", "pod-b", namedPod("pod-b"))
	bTLS := p.node(t, "node-b")
	b := startTunnelNode(t, bTLS, "", pods)
	a := startTunnelNode(t, p.node(t, "node-a"), "", &fakePods{})
	changes := make(chan bool, 16)
	a.client.onChange = func(_ string, down bool) { changes <- down }
	e := &Endpoint{Namespace: "ns", Pod: "pod-b", Node: "node-b", Address: b.addr}
	get := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://svc.ns/", nil)
		resp, err := a.client.RoundTrip(ctx, e, req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if got, err := get(); err != nil || got != "pod-b:" {
		t.Fatalf("before: %q, %v", got, err)
	}
	b.stop()
	waitFor(t, changes, true)
	if !a.client.Down(b.addr) {
		t.Fatal("node-b not marked down after its proxy stopped")
	}
	if _, err := get(); !errors.Is(err, errNotReached) {
		t.Fatalf("request to a down node: err = %v; want not reached", err)
	}
	startTunnelNode(t, bTLS, b.addr, pods)
	waitFor(t, changes, false)
	if got, err := get(); err != nil || got != "pod-b:" {
		t.Fatalf("after recovery: %q, %v", got, err)
	}
}

func waitFor(t *testing.T, changes chan bool, down bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case d := <-changes:
			if d == down {
				return
			}
		case <-deadline:
			t.Fatalf("peer not marked down=%v within 10s", down)
		}
	}
}

// TestTunnelPodPanics: a pod call that panics resets its stream; the
// serving node lives on and serves the next request.
func TestTunnelPodPanics(t *testing.T) {
	p := newTestPKI(t)
	pods := &fakePods{}
	pods.set("ns", "bad", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	pods.set("ns", "good", namedPod("good"))
	b := startTunnelNode(t, p.node(t, "node-b"), "", pods)
	a := startTunnelNode(t, p.node(t, "node-a"), "", &fakePods{})
	req, _ := http.NewRequest("GET", "http://svc.ns/", nil)
	if _, err := a.client.RoundTrip(context.Background(), &Endpoint{Namespace: "ns", Pod: "bad", Node: "node-b", Address: b.addr}, req); err == nil {
		t.Fatal("a panicking pod answered")
	}
	resp, err := a.client.RoundTrip(context.Background(), &Endpoint{Namespace: "ns", Pod: "good", Node: "node-b", Address: b.addr}, req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "good:" {
		t.Errorf("after a panic: %q", body)
	}
}

// checkedPods is a Local that reports which pods it runs (PodChecker).
type checkedPods struct{ *fakePods }

func (c checkedPods) Serves(ns, pod string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pods[ns+"/"+pod] != nil
}

// TestStaleEndpointsRetried: Endpoints that still list pods which no longer
// run (locally, or on the other node) cost no failed request when the
// Local says which pods it serves: those requests go to a pod that runs.
func TestStaleEndpointsRetried(t *testing.T) {
	p := newTestPKI(t)
	podsB := checkedPods{&fakePods{}}
	podsB.set("ns", "live", namedPod("live"))
	b := startTunnelNode(t, p.node(t, "node-b"), "", podsB)
	a := startTunnelNode(t, p.node(t, "node-a"), "", &fakePods{})
	f := newIngressFixture(t, a.client, 2*time.Second)
	f.in.fwd.local = checkedPods{f.pods} // node A runs none of them
	f.in.fwd.maxRetries = 2
	f.setTable([]*waskv1.Service{service("ns", "svc", nil)}, []*waskv1.Endpoints{endpoints("ns", "svc",
		addr{"gone-local", "n1", "", true}, addr{"gone-remote", "node-b", b.addr, true}, addr{"live", "node-b", b.addr, true})})
	for i := range 50 {
		w := f.do("GET", "svc.ns", "/", "")
		if w.Code != 200 || w.Body.String() != "live:" {
			t.Fatalf("request %d: %d %q; want live", i, w.Code, w.Body.String())
		}
	}
	// A body goes with the retry: the ingress read it first (≤ 64 KiB).
	for i := range 20 {
		w := f.do("POST", "svc.ns", "/", "payload")
		if w.Code != 200 || w.Body.String() != "live:payload" {
			t.Fatalf("POST %d: %d %q; want live:payload", i, w.Code, w.Body.String())
		}
	}
	if got := testutil.ToFloat64(f.in.metrics.retries.WithLabelValues("ns", "svc")); got == 0 {
		t.Error("no retries counted")
	}
}
