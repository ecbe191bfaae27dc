package apiserver_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/api/wask/v1/waskv1connect"
	"github.com/wask-dev/wask/apiserver"
	"github.com/wask-dev/wask/store"
)

// testNow is the fixed clock of the test servers.
var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type testServer struct {
	st     *store.Store
	url    string
	client waskv1connect.ObjectServiceClient
}

// newTestServer starts an apiserver on a fresh store, served over loopback
// HTTP (HTTP/1.1 and h2c); its client speaks h2c.
func newTestServer(t *testing.T) *testServer {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Config{Path: t.TempDir(), NoSync: true, CompactionInterval: -1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(apiserver.Config{
		Store:            st,
		Logger:           logger,
		Now:              func() time.Time { return testNow },
		BookmarkInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(srv.Handler())
	url, hc := serveH2C(t, st, mux)
	return &testServer{st: st, url: url, client: waskv1connect.NewObjectServiceClient(hc, url)}
}

// serveH2C serves h on loopback HTTP (HTTP/1.1 and h2c) until the test
// ends, then closes st; the client it returns speaks h2c.
func serveH2C(t *testing.T, st *store.Store, h http.Handler) (string, *http.Client) {
	hs := httptest.NewUnstartedServer(h)
	hs.Config.Protocols = new(http.Protocols)
	hs.Config.Protocols.SetHTTP1(true)
	hs.Config.Protocols.SetUnencryptedHTTP2(true)
	hs.Start()
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	transport := &http.Transport{Protocols: protocols}
	t.Cleanup(func() {
		transport.CloseIdleConnections()
		hs.Close()
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return hs.URL, &http.Client{Transport: transport}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (ts *testServer) create(t *testing.T, obj *waskv1.Object) *waskv1.Object {
	t.Helper()
	resp, err := ts.client.Create(ctxT(t), connect.NewRequest(&waskv1.CreateRequest{Object: obj}))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return resp.Msg.GetObject()
}

func (ts *testServer) get(t *testing.T, kind, ns, name string) (*waskv1.Object, error) {
	t.Helper()
	resp, err := ts.client.Get(ctxT(t), connect.NewRequest(&waskv1.GetRequest{Kind: kind, Namespace: ns, Name: name}))
	if err != nil {
		return nil, err
	}
	return resp.Msg.GetObject(), nil
}

func (ts *testServer) update(t *testing.T, obj *waskv1.Object) (*waskv1.Object, error) {
	t.Helper()
	resp, err := ts.client.Update(ctxT(t), connect.NewRequest(&waskv1.UpdateRequest{Object: obj}))
	if err != nil {
		return nil, err
	}
	return resp.Msg.GetObject(), nil
}

func (ts *testServer) list(t *testing.T, req *waskv1.ListRequest) (*waskv1.ListResponse, error) {
	t.Helper()
	resp, err := ts.client.List(ctxT(t), connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

func (ts *testServer) delete(t *testing.T, req *waskv1.DeleteRequest) (*waskv1.Object, error) {
	t.Helper()
	resp, err := ts.client.Delete(ctxT(t), connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return resp.Msg.GetObject(), nil
}

// wantCode fails unless err is a Connect error with code want.
func wantCode(t *testing.T, err error, want connect.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	if got := connect.CodeOf(err); got != want {
		t.Fatalf("got %v (%v), want %v", got, err, want)
	}
}

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func testPod(name string, labels map[string]string) *waskv1.Pod {
	return &waskv1.Pod{
		Metadata: &waskv1.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
		Spec:     &waskv1.PodSpec{Module: testDigest, Mode: "http-reactor"},
	}
}

func podObj(p *waskv1.Pod) *waskv1.Object { return &waskv1.Object{Kind: &waskv1.Object_Pod{Pod: p}} }

func revOf(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("revision %q is not decimal", s)
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// compactedDetail returns the RevisionCompacted detail of err.
func compactedDetail(t *testing.T, err error) *waskv1.RevisionCompacted {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v is not a connect error", err)
	}
	for _, d := range ce.Details() {
		v, derr := d.Value()
		if derr != nil {
			t.Fatal(derr)
		}
		if rc, ok := v.(*waskv1.RevisionCompacted); ok {
			return rc
		}
	}
	t.Fatalf("%v has no RevisionCompacted detail", err)
	return nil
}
