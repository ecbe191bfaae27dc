package meshproxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/internal/pki"
)

// fakePods is a Local whose pods are http.Handlers.
type fakePods struct {
	mu   sync.Mutex
	pods map[string]http.Handler // "namespace/pod"
}

func (f *fakePods) set(ns, pod string, h http.Handler) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pods == nil {
		f.pods = map[string]http.Handler{}
	}
	f.pods[ns+"/"+pod] = h
}

func (f *fakePods) Invoke(ctx context.Context, ns, pod string, w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	h := f.pods[ns+"/"+pod]
	f.mu.Unlock()
	if h == nil {
		http.Error(w, "no pod "+ns+"/"+pod, http.StatusNotFound)
		return
	}
	h.ServeHTTP(w, r.WithContext(ctx))
}

// namedPod answers "<pod>" and echoes what it saw in headers.
func namedPod(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Pod", name)
		w.Header().Set("Seen-Path", r.URL.Path)
		w.Header().Set("Seen-Forwarded-For", r.Header.Get(HeaderForwardedFor))
		w.Header().Set("Seen-Request-Id", r.Header.Get(HeaderRequestID))
		w.Header().Set("Seen-Prefix", r.Header.Get(HeaderForwardedPrefix))
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s:%s", name, body)
	})
}

// fakeRemote serves remote endpoints from handlers per address; an
// address without a handler is unreachable (errNotReached).
type fakeRemote struct {
	handlers map[string]http.Handler
	down     map[string]bool // addresses marked down
	calls    atomic.Int64
}

func (f *fakeRemote) Down(a string) bool { return f.down[a] }

func (f *fakeRemote) RoundTrip(ctx context.Context, e *Endpoint, r *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	h := f.handlers[e.Address]
	if h == nil {
		return nil, fmt.Errorf("dial %s: %w", e.Address, errNotReached)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r.WithContext(ctx))
	return rec.Result(), nil
}

type ingressFixture struct {
	in    *ingress
	reg   *prometheus.Registry
	pods  *fakePods
	table atomic.Pointer[Table]
}

func newIngressFixture(t *testing.T, rem remote, timeout time.Duration) *ingressFixture {
	t.Helper()
	f := &ingressFixture{reg: prometheus.NewRegistry(), pods: &fakePods{}}
	m, err := newMetrics(f.reg)
	if err != nil {
		t.Fatal(err)
	}
	var ids atomic.Int64
	f.in = &ingress{
		table:   f.table.Load,
		fwd:     &forwarder{local: f.pods, remote: rem, intn: rand.IntN, maxRetries: 2, metrics: m},
		timeout: timeout,
		newID:   func() string { return fmt.Sprintf("id-%d", ids.Add(1)) },
		now:     time.Now,
		logger:  slog.New(slog.DiscardHandler),
		metrics: m,
	}
	f.table.Store(Build(nil, nil, TableOptions{}))
	return f
}

func (f *ingressFixture) setTable(services []*waskv1.Service, eps []*waskv1.Endpoints) {
	t := Build(services, eps, TableOptions{LocalNode: "n1"})
	(&loads{}).attach(t)
	f.table.Store(t)
}

func (f *ingressFixture) do(method, host, path, body string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://"+host+path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.in.ServeHTTP(w, r)
	return w
}

func TestIngress(t *testing.T) {
	f := newIngressFixture(t, &fakeRemote{}, 300*time.Millisecond)
	f.pods.set("default", "echo-a", namedPod("echo-a"))
	f.pods.set("default", "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	f.setTable([]*waskv1.Service{service("default", "echo", nil), service("default", "empty", nil), service("default", "slow", nil)},
		[]*waskv1.Endpoints{
			endpoints("default", "echo", addr{"echo-a", "n1", "", true}),
			endpoints("default", "empty", addr{"e-1", "n1", "", false}),
			endpoints("default", "slow", addr{"slow", "n1", "", true}),
		})

	tests := []struct {
		name, host, path string
		hdr              []string
		wantCode         int
		wantBody         string // substring
		wantHdr          map[string]string
	}{
		{name: "by host", host: "echo.default", path: "/hi", wantCode: 200, wantBody: "echo-a:payload",
			wantHdr: map[string]string{"Seen-Path": "/hi", "Seen-Forwarded-For": "192.0.2.1", "Seen-Request-Id": "id-1", HeaderRequestID: "id-1"}},
		{name: "by path", host: "node.example", path: "/default/echo/hi", wantCode: 200, wantBody: "echo-a:",
			wantHdr: map[string]string{"Seen-Path": "/hi", "Seen-Prefix": "/default/echo"}},
		{name: "request id and forwarded-for kept", host: "echo.default", path: "/", hdr: []string{HeaderRequestID, "abc", HeaderForwardedFor, "198.51.100.9"},
			wantCode: 200, wantHdr: map[string]string{"Seen-Request-Id": "abc", "Seen-Forwarded-For": "198.51.100.9, 192.0.2.1"}},
		{name: "unknown service", host: "nope.default", path: "/", wantCode: 404, wantBody: `no service for host "nope.default"`},
		{name: "no ready endpoint", host: "empty.default", path: "/", wantCode: 503, wantBody: "service default/empty has no ready endpoint (1 not ready)"},
		{name: "pod timeout", host: "slow.default", path: "/", wantCode: 504},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := ""
			if tt.wantCode == 200 && tt.name == "by host" {
				body = "payload"
			}
			w := f.do("POST", tt.host, tt.path, body, tt.hdr...)
			if w.Code != tt.wantCode || !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Errorf("got %d %q; want %d with %q", w.Code, w.Body.String(), tt.wantCode, tt.wantBody)
			}
			for k, v := range tt.wantHdr {
				if got := w.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
	for _, c := range []struct {
		svc, code string
		want      float64
	}{{"echo", "200", 3}, {"empty", "503", 1}, {"slow", "504", 1}} {
		if got := testutil.ToFloat64(f.in.metrics.requests.WithLabelValues("default", c.svc, c.code)); got != c.want {
			t.Errorf("requests{%s,%s} = %v, want %v", c.svc, c.code, got, c.want)
		}
	}
	if got := testutil.ToFloat64(f.in.metrics.unrouted); got != 1 {
		t.Errorf("unrouted = %v, want 1", got)
	}
	if got := testutil.ToFloat64(f.in.metrics.inflight.WithLabelValues("default", "echo")); got != 0 {
		t.Errorf("in flight after the requests = %v, want 0", got)
	}
	if n, err := testutil.GatherAndCount(f.reg, "wask_mesh_request_duration_seconds"); err != nil || n != 3 {
		t.Errorf("latency series = %d, %v; want 3", n, err)
	}
}

// TestIngressRetry: a request whose first endpoint is on an unreachable
// node goes to another; one that reached a pod is never retried.
func TestIngressRetry(t *testing.T) {
	var bCalls atomic.Int64
	rem := &fakeRemote{handlers: map[string]http.Handler{
		"b:1": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { bCalls.Add(1); http.Error(w, "boom", 500) }),
	}}
	f := newIngressFixture(t, rem, time.Second)
	f.setTable([]*waskv1.Service{service("default", "svc", nil), service("default", "bad", nil)}, []*waskv1.Endpoints{
		endpoints("default", "svc", addr{"p-dead-1", "dead", "dead:1", true}, addr{"p-dead-2", "dead", "dead:1", true}, addr{"p-b", "nb", "b:1", true}),
		endpoints("default", "bad", addr{"p-dead", "dead", "dead:1", true}),
	})
	for range 20 {
		bCalls.Store(0)
		w := f.do("GET", "svc.default", "/", "")
		if w.Code != 500 || bCalls.Load() != 1 {
			t.Fatalf("got %d with %d calls to the pod; want its 500, once", w.Code, bCalls.Load())
		}
	}
	w := f.do("GET", "bad.default", "/", "")
	if w.Code != 503 || !strings.Contains(w.Body.String(), "no endpoint reachable") {
		t.Errorf("all unreachable: got %d %q; want 503 naming it", w.Code, w.Body.String())
	}
	rem.down = map[string]bool{"dead:1": true}
	calls := rem.calls.Load()
	w = f.do("GET", "bad.default", "/", "")
	if w.Code != 503 || !strings.Contains(w.Body.String(), "all on nodes marked down") || rem.calls.Load() != calls {
		t.Errorf("all on down nodes: got %d %q (%d calls); want 503 naming it, no call", w.Code, w.Body.String(), rem.calls.Load()-calls)
	}
}

// TestIngressServe runs the real listener: HTTP/1.1, h2c and h2 over TLS.
func TestIngressServe(t *testing.T) {
	f := newIngressFixture(t, nil, time.Second)
	f.pods.set("default", "p", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) }))
	f.setTable([]*waskv1.Service{service("default", "echo", nil)}, []*waskv1.Endpoints{endpoints("default", "echo", addr{"p", "n1", "", true})})

	ca, err := pki.NewCA("test-ca", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue(pki.CertRequest{CommonName: "ingress", DNSNames: []string{"localhost"}, Server: true, Validity: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		tls   *tls.Config
		proto func(*http.Protocols)
		want  string
	}{
		{"http1", nil, func(p *http.Protocols) { p.SetHTTP1(true) }, "HTTP/1.1"},
		{"h2c", nil, func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }, "HTTP/2.0"},
		{"h2", &tls.Config{Certificates: []tls.Certificate{cert}}, func(p *http.Protocols) { p.SetHTTP2(true) }, "HTTP/2.0"},
		{"https1", &tls.Config{Certificates: []tls.Certificate{cert}}, func(p *http.Protocols) { p.SetHTTP1(true) }, "HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- serveHTTP(ctx, lis, f.in, tc.tls, slog.New(slog.DiscardHandler)) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			tr := &http.Transport{Protocols: new(http.Protocols), TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}}
			tc.proto(tr.Protocols)
			defer tr.CloseIdleConnections()
			scheme := "http"
			if tc.tls != nil {
				scheme = "https"
			}
			req, _ := http.NewRequest("GET", scheme+"://"+lis.Addr().String()+"/default/echo/", nil)
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !bytes.Equal(b, []byte(tc.want)) || resp.Proto != tc.want {
				t.Errorf("got %d %q over %s; want 200 %q", resp.StatusCode, b, resp.Proto, tc.want)
			}
		})
	}
}

// TestIngressRetriesRefusedLocal: a local pod that does not take a request
// (HeaderNotReached: stopping, as in a rolling update) sends it to another
// endpoint, and nothing of the refusal reaches the client.
func TestIngressRetriesRefusedLocal(t *testing.T) {
	f := newIngressFixture(t, nil, time.Second)
	var refused atomic.Int64
	f.pods.set("default", "stopping", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refused.Add(1)
		w.Header().Set(HeaderNotReached, "1")
		http.Error(w, "pod default/stopping is stopping", http.StatusServiceUnavailable)
	}))
	f.pods.set("default", "ok", namedPod("ok"))
	f.setTable([]*waskv1.Service{service("default", "svc", nil), service("default", "gone", nil)}, []*waskv1.Endpoints{
		endpoints("default", "svc", addr{"stopping", "n1", "", true}, addr{"ok", "n1", "", true}),
		endpoints("default", "gone", addr{"stopping", "n1", "", true}),
	})
	for range 20 {
		w := f.do("POST", "svc.default", "/", "body")
		if w.Code != 200 || w.Body.String() != "ok:body" {
			t.Fatalf("got %d %q; want the other pod's answer", w.Code, w.Body.String())
		}
		for _, h := range []string{HeaderNotReached, "X-Content-Type-Options"} {
			if v := w.Header().Get(h); v != "" {
				t.Errorf("the refusal's header %s: %q reached the client", h, v)
			}
		}
	}
	if refused.Load() == 0 {
		t.Error("the stopping pod was never picked; the test proves nothing")
	}
	w := f.do("GET", "gone.default", "/", "")
	if w.Code != 503 || !strings.Contains(w.Body.String(), "no endpoint reachable") {
		t.Errorf("only a refusing pod: got %d %q; want the proxy's 503", w.Code, w.Body.String())
	}
}
