package sandbox

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func newHandler(t *testing.T, m *Module, s Spec, mode string, pc PoolConfig) *Handler {
	t.Helper()
	h, err := testRuntime(t).NewHandler(m, s, mode, pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(context.Background()); err != nil {
			t.Error(err)
		}
		if st := h.Stats(); st.Instances != 0 || st.InFlight != 0 {
			t.Errorf("closed handler holds %+v", st)
		}
	})
	return h
}

func do(h http.Handler, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func tinyModule(t *testing.T) *Module {
	wasm, err := os.ReadFile("../../wasm-samples/tiny/tiny.wasm")
	if err != nil {
		t.Fatal(err)
	}
	return compile(t, wasm)
}

func checkEcho(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	want := []string{"method: POST", "path: /a/b", "query: x=1", "host: svc.default", "pod: pod-1", "node: node-1",
		"header: X-Foo: bar, baz", "body: hello body"}
	got := w.Body.String()
	for _, line := range want {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("response lacks %q:\n%s", line, got)
		}
	}
	if w.Code != 200 || w.Header().Get("X-Echo-Pod") != "pod-1" || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("status %d, header %v", w.Code, w.Header())
	}
}

var echoSpec = Spec{Name: "echo", Env: map[string]string{"WASK_POD_NAME": "pod-1", "WASK_NODE_NAME": "node-1"}}

func TestReactorEcho(t *testing.T) {
	h := newHandler(t, guest(t, "echo"), echoSpec, ModeHTTPReactor, PoolConfig{})
	for range 3 {
		checkEcho(t, do(h, "POST", "http://svc.default/a/b?x=1", "hello body", "X-Foo", "bar", "X-Foo", "baz"))
	}
	if st := h.Stats(); st.Started != 1 || st.Instances != 1 || st.Idle != 1 || st.Served != 3 {
		t.Fatalf("stats %+v: want one warm instance reused", st)
	}
}

func TestCGIEcho(t *testing.T) {
	h := newHandler(t, guest(t, "cgi-echo"), echoSpec, ModeHTTPCGI, PoolConfig{})
	checkEcho(t, do(h, "POST", "http://svc.default/a/b?x=1", "hello body", "X-Foo", "bar", "X-Foo", "baz"))
	if st := h.Stats(); st.Started != 1 || st.Instances != 0 {
		t.Fatalf("stats %+v: want the instance gone after the request", st)
	}
}

func TestReactorTiny(t *testing.T) {
	h := newHandler(t, tinyModule(t), Spec{}, ModeHTTPReactor, PoolConfig{})
	w := do(h, "GET", "/anything", "")
	if w.Code != 200 || w.Body.String() != "hello from tiny\n" || w.Header().Get("Content-Type") != "text/plain" {
		t.Fatalf("tiny: %d %v %q", w.Code, w.Header(), w.Body)
	}
	if err := h.Call(context.Background(), HealthExport); err != nil {
		t.Fatal(err)
	}
	// tiny refuses a request over 64512 bytes: a clean 500, instance kept.
	if w := do(h, "POST", "/", strings.Repeat("x", 70000)); w.Code != 500 || !strings.Contains(w.Body.String(), "refused") {
		t.Fatalf("big request: %d %q", w.Code, w.Body)
	}
	if st := h.Stats(); st.Started != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReactorFailures(t *testing.T) {
	rp := guest(t, "reactorprobe")
	h := newHandler(t, rp, Spec{}, ModeHTTPReactor, PoolConfig{MaxInstances: 1})
	for _, c := range []struct {
		path   string
		status int
		body   string
		kept   bool
	}{
		{"/count", 200, "1", true},
		{"/panic", 500, "handler panic: asked to", true},
		{"/count", 200, "2", true},
		{"/exit", 500, "exited with code 4", false},
		{"/count", 200, "1", true},
		{"/exit0", 500, "exited while handling", false},
		{"/count", 200, "1", true},
	} {
		before := h.Stats().Started
		w := do(h, "GET", c.path, "")
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.body) {
			t.Fatalf("%s: %d %q, want %d %q", c.path, w.Code, w.Body, c.status, c.body)
		}
		if st := h.Stats(); (st.Instances == 1) != c.kept || st.InFlight != 0 {
			t.Fatalf("%s: stats %+v (started before: %d), kept %v", c.path, st, before, c.kept)
		}
	}
}

func TestReactorTimeout(t *testing.T) {
	h := newHandler(t, guest(t, "reactorprobe"), Spec{Timeout: 300 * time.Millisecond}, ModeHTTPReactor, PoolConfig{MaxInstances: 1})
	if w := do(h, "GET", "/spin", ""); w.Code != 504 || !strings.Contains(w.Body.String(), "deadline exceeded") {
		t.Fatalf("/spin: %d %q", w.Code, w.Body)
	}
	if st := h.Stats(); st.Instances != 0 || st.InFlight != 0 {
		t.Fatalf("the stopped instance is still pooled: %+v", st)
	}
}

func TestReactorOOM(t *testing.T) {
	h := newHandler(t, guest(t, "reactorprobe"), Spec{MemoryLimit: 48 << 20}, ModeHTTPReactor, PoolConfig{MaxInstances: 1})
	if w := do(h, "GET", "/hog", ""); w.Code != 500 || !strings.Contains(w.Body.String(), "memory limit exceeded") {
		t.Fatalf("/hog: %d %q", w.Code, w.Body)
	}
	if st := h.Stats(); st.Instances != 0 {
		t.Fatalf("the refused instance is still pooled: %+v", st)
	}
	if w := do(h, "GET", "/count", ""); w.Body.String() != "1" {
		t.Fatalf("after OOM: %q", w.Body)
	}
}

func TestReactorProbes(t *testing.T) {
	h := newHandler(t, guest(t, "reactorprobe"), Spec{}, ModeHTTPReactor, PoolConfig{MaxInstances: 1})
	ctx := context.Background()
	if err := h.Call(ctx, HealthExport); err != nil {
		t.Fatalf("healthy: %v", err)
	}
	do(h, "GET", "/sick", "")
	if err := h.Call(ctx, HealthExport); err == nil || !strings.Contains(err.Error(), "returned 1") {
		t.Fatalf("sick: %v", err)
	}
	if err := h.Call(ctx, "no_such"); !errors.Is(err, ErrNoExport) {
		t.Fatalf("missing export: %v", err)
	}
	if err := h.Call(ctx, "trap_now"); err == nil {
		t.Fatal("a trapping probe passed")
	}
	if st := h.Stats(); st.Instances != 0 {
		t.Fatalf("the trapped instance is still pooled: %+v", st)
	}
	if err := h.Call(ctx, HealthExport); err != nil {
		t.Fatalf("fresh instance: %v", err)
	}
}

// blockingOutbound is an Outbound that holds each call until released.
type blockingOutbound struct {
	calls   atomic.Int32
	release chan struct{}
}

func (b *blockingOutbound) do(ctx context.Context, req *http.Request) (*http.Response, error) {
	b.calls.Add(1)
	select {
	case <-b.release:
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("released " + req.URL.Path))}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestReactorConcurrencyLimit(t *testing.T) {
	out := &blockingOutbound{release: make(chan struct{})}
	h := newHandler(t, guest(t, "reactorprobe"), Spec{Outbound: out.do}, ModeHTTPReactor, PoolConfig{MaxInstances: 2})
	codes := make(chan string, 3)
	for range 3 {
		go func() {
			w := do(h, "GET", "/get?url=http://up.default/x", "")
			codes <- w.Body.String()
		}()
	}
	waitFor(t, "two calls out and a third request waiting", func() bool {
		return out.calls.Load() == 2 && h.Stats().InFlight == 3
	})
	if st := h.Stats(); st.Instances != 2 {
		t.Fatalf("stats %+v: want 2 instances at MaxInstances 2", st)
	}
	close(out.release)
	for range 3 {
		if got := <-codes; got != "released /x" {
			t.Fatalf("response %q", got)
		}
	}
	if st := h.Stats(); st.Started != 2 || st.Served != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReactorScalesToZero(t *testing.T) {
	h := newHandler(t, guest(t, "reactorprobe"), Spec{}, ModeHTTPReactor, PoolConfig{IdleTimeout: 20 * time.Millisecond})
	if w := do(h, "GET", "/count", ""); w.Body.String() != "1" {
		t.Fatal(w.Body)
	}
	waitFor(t, "the pool to scale to zero", func() bool { return h.Stats().Instances == 0 })
	if w := do(h, "GET", "/count", ""); w.Body.String() != "1" {
		t.Fatalf("after scale to zero: %q, want a fresh instance", w.Body)
	}
	if st := h.Stats(); st.Started != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestHandlerCloseGraceful(t *testing.T) {
	out := &blockingOutbound{release: make(chan struct{})}
	h := newHandler(t, guest(t, "reactorprobe"), Spec{Outbound: out.do}, ModeHTTPReactor, PoolConfig{})
	got := make(chan *httptest.ResponseRecorder, 1)
	go func() { got <- do(h, "GET", "/get?url=http://up.default/slow", "") }()
	waitFor(t, "the request to call out", func() bool { return out.calls.Load() == 1 })
	closed := make(chan error, 1)
	go func() { closed <- h.Close(context.Background()) }()
	waitFor(t, "new requests to be refused", func() bool { return do(h, "GET", "/count", "").Code == 503 })
	close(out.release)
	if w := <-got; w.Code != 200 || w.Body.String() != "released /slow" {
		t.Fatalf("in-flight request: %d %q", w.Code, w.Body)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := h.Call(context.Background(), HealthExport); !errors.Is(err, ErrClosed) {
		t.Fatalf("Call after Close: %v", err)
	}
}

func TestHandlerCloseForced(t *testing.T) {
	out := &blockingOutbound{release: make(chan struct{})}
	h := newHandler(t, guest(t, "reactorprobe"), Spec{Outbound: out.do}, ModeHTTPReactor, PoolConfig{})
	got := make(chan *httptest.ResponseRecorder, 1)
	go func() { got <- do(h, "GET", "/get?url=http://up.default/slow", "") }()
	waitFor(t, "the request to call out", func() bool { return out.calls.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := h.Close(ctx); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("forced Close: %v", err)
	}
	if w := <-got; w.Code == 200 {
		t.Fatalf("canceled request answered %d %q", w.Code, w.Body)
	}
}

func TestNewHandlerErrors(t *testing.T) {
	rt := testRuntime(t)
	for name, c := range map[string]struct {
		m    *Module
		mode string
	}{
		"unknown mode":       {tinyModule(t), "http"},
		"command as reactor": {guest(t, "hello"), ModeHTTPReactor},
		"reactor as cgi":     {tinyModule(t), ModeHTTPCGI},
		"command mode":       {guest(t, "hello"), ModeCommand},
		"old reactor ABI":    {compile(t, testWasm(t, "reactor")), ModeHTTPReactor},
	} {
		if _, err := rt.NewHandler(c.m, Spec{}, c.mode, PoolConfig{}); err == nil {
			t.Errorf("%s: NewHandler succeeded", name)
		}
	}
}

func TestCGIFailures(t *testing.T) {
	for _, c := range []struct {
		sample string
		spec   Spec
		status int
		body   string
	}{
		{"fail", Spec{}, 500, "exited with code 3"},
		{"spin", Spec{Timeout: 200 * time.Millisecond}, 504, "deadline exceeded"},
		{"hello", Spec{}, 500, "CGI response"},
	} {
		h := newHandler(t, guest(t, c.sample), c.spec, ModeHTTPCGI, PoolConfig{})
		if w := do(h, "GET", "/", ""); w.Code != c.status || !strings.Contains(w.Body.String(), c.body) {
			t.Errorf("%s: %d %q, want %d %q", c.sample, w.Code, w.Body, c.status, c.body)
		}
		if st := h.Stats(); st.Instances != 0 {
			t.Errorf("%s: %+v", c.sample, st)
		}
	}
}

func TestParseCGI(t *testing.T) {
	r, err := parseCGI([]byte("Status: 404 Not Found\r\nContent-Type: text/plain\r\nX-A: 1\r\n\r\nnope"))
	if err != nil || r.status != 404 || r.header.Get("X-A") != "1" || r.header.Get("Status") != "" || string(r.body) != "nope" {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = parseCGI([]byte("Location: /x\n\n"))
	if err != nil || r.status != 302 {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range []string{"", "\n\nbody", "Status: abc\n\n", "no colon here\n\n"} {
		if _, err := parseCGI([]byte(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}
