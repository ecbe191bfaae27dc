package apiserver_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/apiserver"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/testcluster"
)

// httpsClient trusts the cluster's CA and speaks HTTP/2.
func httpsClient(t *testing.T, c *testcluster.Cluster) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(c.CA.Cert)
	tr := &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: pool}}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// TestEveryRPCRequiresAuthentication walks the service descriptors: each
// method, called without a token and with a wrong one, is Unauthenticated.
func TestEveryRPCRequiresAuthentication(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	hc := httpsClient(t, c)
	methods := 0
	for _, fd := range []protoreflect.FileDescriptor{waskv1.File_wask_v1_object_service_proto, waskv1.File_wask_v1_module_service_proto} {
		svcs := fd.Services()
		for i := 0; i < svcs.Len(); i++ {
			svc := svcs.Get(i)
			for j := 0; j < svc.Methods().Len(); j++ {
				m := svc.Methods().Get(j)
				path := "/" + string(svc.FullName()) + "/" + string(m.Name())
				streaming := m.IsStreamingClient() || m.IsStreamingServer()
				for _, auth := range []string{"", "Bearer wrong-token"} {
					code := callRaw(t, hc, c.URL+path, streaming, auth)
					if code != "unauthenticated" {
						t.Errorf("%s with %q: code %q, want unauthenticated", path, auth, code)
					}
				}
				methods++
			}
		}
	}
	if methods < 10 {
		t.Fatalf("walked only %d methods", methods)
	}
}

// callRaw makes a Connect-protocol call with an empty JSON message and
// returns the error code ("" on success).
func callRaw(t *testing.T, hc *http.Client, url string, streaming bool, auth string) string {
	t.Helper()
	body := []byte("{}")
	ctype := "application/json"
	if streaming {
		env := make([]byte, 5, 5+len(body))
		binary.BigEndian.PutUint32(env[1:], uint32(len(body)))
		body = append(env, body...)
		ctype = "application/connect+json"
	}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, code := range []string{"unauthenticated", "permission_denied", "invalid_argument", "not_found"} {
		if strings.Contains(string(b), `"code":"`+code+`"`) {
			return code
		}
	}
	return ""
}

func TestNodeAuthorization(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	ctx := context.Background()
	node := c.NodeClient(t, "node-1")
	// Its own Node: allowed. Another's: denied. Reads: allowed.
	if _, err := client.Create(ctx, node, &waskv1.Node{Metadata: &waskv1.ObjectMeta{Name: "node-1"}}); err != nil {
		t.Fatalf("node creating its own Node: %v", err)
	}
	if _, err := client.Create(ctx, node, &waskv1.Node{Metadata: &waskv1.ObjectMeta{Name: "node-2"}}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("node creating another Node: %v, want PermissionDenied", err)
	}
	if _, _, err := client.List[*waskv1.Node](ctx, node, client.ListOptions{}); err != nil {
		t.Fatalf("node listing nodes: %v", err)
	}
	pod := &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: &waskv1.PodSpec{Module: "sha256:" + strings.Repeat("ab", 32), Mode: "command"}}
	if _, err := client.Create(ctx, node, pod); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("node creating a pod: %v, want PermissionDenied", err)
	}
	// A pod bound to node-1: node-1 may write its status, node-2 may not.
	pod.Spec.NodeName = "node-1"
	created, err := client.Create(ctx, c.Client, pod)
	if err != nil {
		t.Fatal(err)
	}
	created.Status = &waskv1.PodStatus{Phase: "Running"}
	if _, err := client.UpdateStatus(ctx, node, created); err != nil {
		t.Fatalf("node-1 updating its pod's status: %v", err)
	}
	if _, err := client.UpdateStatus(ctx, c.NodeClient(t, "node-2"), created); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("node-2 updating node-1's pod: %v, want PermissionDenied", err)
	}
	// The join secret without a node name authenticates no one.
	anon := c.NewClient(t, client.Config{Server: c.URL, CAData: c.CA.CertPEM, Token: c.JoinSecret})
	if _, _, err := client.List[*waskv1.Node](ctx, anon, client.ListOptions{}); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("join secret without a node name: %v, want Unauthenticated", err)
	}
}

// countingReader yields n bytes of JSON-ish filler and counts reads.
type countingReader struct {
	left int64
	read atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), r.left)
	for i := range p[:n] {
		p[i] = ' '
	}
	r.left -= n
	r.read.Add(n)
	return int(n), nil
}

// TestOversizedRequestRefused sends a 256 MiB Create: the server refuses
// it after reading about its limit, not the whole body.
func TestOversizedRequestRefused(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Serve: apiserver.ServeConfig{MaxRequestBytes: 1 << 20}})
	hc := httpsClient(t, c)
	const size = 256 << 20
	body := &countingReader{left: size}
	req, _ := http.NewRequest(http.MethodPost, c.URL+"/wask.v1.ObjectService/Create", body)
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.AdminToken)
	resp, err := hc.Do(req)
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("oversized request accepted: %s", b)
		}
	}
	if sent := body.read.Load(); sent >= size {
		t.Fatalf("the whole %d-byte body was read", sent)
	}
	// The server is fine afterwards.
	if _, _, err := client.List[*waskv1.Namespace](context.Background(), c.Client, client.ListOptions{}); err != nil {
		t.Fatalf("after the oversized request: %v", err)
	}
}

func TestWatchLimit(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Serve: apiserver.ServeConfig{MaxWatches: 1}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, err := c.Client.Objects.Watch(ctx, connect.NewRequest(&waskv1.WatchRequest{Kind: "Pod"}))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := c.Client.Objects.Watch(ctx, connect.NewRequest(&waskv1.WatchRequest{Kind: "Pod"}))
	if err == nil {
		for second.Receive() {
		}
		err = second.Err()
	}
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("second watch: %v, want ResourceExhausted", err)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	hc := httpsClient(t, c)
	if _, _, err := client.List[*waskv1.Pod](context.Background(), c.Client, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		resp, err := hc.Get(c.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %s", path, resp.Status, b)
		}
		return string(b)
	}
	get("/livez")
	get("/readyz")
	if m := get("/metrics"); !strings.Contains(m, `wask_apiserver_requests_total{code="ok",procedure="/wask.v1.ObjectService/List"}`) {
		t.Fatalf("metrics lack the List request:\n%s", m)
	}
	req, _ := http.NewRequest(http.MethodPost, c.URL+"/grpc.health.v1.Health/Check", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "SERVING") {
		t.Fatalf("health check: %s", b)
	}
}
