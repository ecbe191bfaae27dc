package apiserver_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/api/wask/v1/waskv1connect"
	"github.com/wask-dev/wask/apiserver"
	"github.com/wask-dev/wask/store"
)

// fakeNodeLogs is a node API answering Logs for pod "p" when called with
// the node secret.
type fakeNodeLogs struct{ secret string }

func (f fakeNodeLogs) Logs(_ context.Context, req *connect.Request[waskv1.LogsRequest], stream *connect.ServerStream[waskv1.LogsResponse]) error {
	if req.Header().Get("Authorization") != "Bearer "+f.secret {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("bad token"))
	}
	if req.Msg.GetName() != "p" {
		return connect.NewError(connect.CodeNotFound, errors.New("pod not found on this node"))
	}
	for _, line := range []string{"one\n", "two\n"} {
		if err := stream.Send(&waskv1.LogsResponse{Data: []byte(line)}); err != nil {
			return err
		}
	}
	return nil
}

func TestLogsProxiesToThePodsNode(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Config{Path: t.TempDir(), NoSync: true, CompactionInterval: -1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(apiserver.Config{Store: st, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(srv.Handler())
	mux.Handle(srv.LogHandler(apiserver.ServeConfig{Tokens: apiserver.StaticTokens{NodeJoin: "node-secret"}}))
	url, hc := serveH2C(t, st, mux)
	objects := waskv1connect.NewObjectServiceClient(hc, url)
	logs := waskv1connect.NewLogServiceClient(hc, url)
	ctx := ctxT(t)

	node := httptest.NewUnstartedServer(nil)
	node.Config.Handler = func() http.Handler {
		m := http.NewServeMux()
		m.Handle(waskv1connect.NewLogServiceHandler(fakeNodeLogs{secret: "node-secret"}))
		return m
	}()
	node.EnableHTTP2 = true
	node.Config.ErrorLog = log.New(io.Discard, "", 0)
	node.StartTLS()
	t.Cleanup(node.Close)
	sum := sha256.Sum256(node.Certificate().Raw)
	pin := hex.EncodeToString(sum[:])

	create := func(o *waskv1.Object) {
		t.Helper()
		if _, err := objects.Create(ctx, connect.NewRequest(&waskv1.CreateRequest{Object: o})); err != nil {
			t.Fatal(err)
		}
	}
	digest := "sha256:" + strings.Repeat("a", 64)
	create(&waskv1.Object{Kind: &waskv1.Object_Pod{Pod: &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: "p"}, Spec: &waskv1.PodSpec{Module: digest, Mode: "command", NodeName: "n1"}}}})
	create(&waskv1.Object{Kind: &waskv1.Object_Pod{Pod: &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: "unbound"}, Spec: &waskv1.PodSpec{Module: digest, Mode: "command"}}}})
	create(&waskv1.Object{Kind: &waskv1.Object_Pod{Pod: &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: "q"}, Spec: &waskv1.PodSpec{Module: digest, Mode: "command", NodeName: "n2"}}}})
	addNode := func(name, pin string) {
		t.Helper()
		create(&waskv1.Object{Kind: &waskv1.Object_Node{Node: &waskv1.Node{Metadata: &waskv1.ObjectMeta{Name: name, Annotations: map[string]string{"wask.dev/api-cert-sha256": pin}}}}})
		_, err := objects.UpdateStatus(ctx, connect.NewRequest(&waskv1.UpdateStatusRequest{Object: &waskv1.Object{Kind: &waskv1.Object_Node{Node: &waskv1.Node{
			Metadata: &waskv1.ObjectMeta{Name: name},
			Status:   &waskv1.NodeStatus{Addresses: []*waskv1.NodeAddress{{Type: "API", Address: strings.TrimPrefix(node.URL, "https://")}}},
		}}}}))
		if err != nil {
			t.Fatal(err)
		}
	}
	addNode("n1", pin)
	addNode("n2", strings.Repeat("0", 64)) // a pin the node's certificate doesn't match

	read := func(name string) (string, error) {
		stream, err := logs.Logs(ctx, connect.NewRequest(&waskv1.LogsRequest{Name: name}))
		if err != nil {
			return "", err
		}
		defer stream.Close()
		var b strings.Builder
		for stream.Receive() {
			b.Write(stream.Msg().GetData())
		}
		return b.String(), stream.Err()
	}
	if got, err := read("p"); err != nil || got != "one\ntwo\n" {
		t.Errorf("logs of p = %q, %v", got, err)
	}
	for name, want := range map[string]connect.Code{"unbound": connect.CodeFailedPrecondition, "q": connect.CodeUnavailable, "missing": connect.CodeNotFound} {
		if _, err := read(name); connect.CodeOf(err) != want {
			t.Errorf("logs of %s: %v, want %v", name, err, want)
		}
	}
}
