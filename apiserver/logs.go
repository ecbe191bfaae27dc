package apiserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/api/wask/v1/waskv1connect"
)

// nodeAPICertAnnotation is the Node annotation in which a wasmlet publishes
// the SHA-256 (hex) of its API's self-signed certificate (the apiserver
// pins it; the wasmlet package defines it too and may not be imported).
const nodeAPICertAnnotation = "wask.dev/api-cert-sha256"

// logProxy serves wask.v1.LogService by proxying each call to the node the
// pod is bound to (its "API" address), authenticated with the node
// credential and pinned to the certificate the Node publishes.
//
//	client ──Logs──▶ apiserver: pod ─▶ node ─▶ API address + cert pin ──Logs──▶ wasmlet
//	       ◀──────── chunks relayed as they come ◀─────────────────────────────
type logProxy struct {
	s         *Server
	nodeToken string

	mu      sync.Mutex
	clients map[string]waskv1connect.LogServiceClient // by address and pin
}

var _ waskv1connect.LogServiceHandler = (*logProxy)(nil)

func (l *logProxy) Logs(ctx context.Context, req *connect.Request[waskv1.LogsRequest], stream *connect.ServerStream[waskv1.LogsResponse]) error {
	r := req.Msg
	ns := r.GetNamespace()
	if ns == "" {
		ns = defaultNamespace
	}
	if why := checkDNSLabel(ns); why != "" {
		return invalidArgument("namespace: %s", why)
	}
	if why := checkDNSSubdomain(r.GetName()); why != "" {
		return invalidArgument("name: %s", why)
	}
	if r.GetTailLines() < 0 {
		return invalidArgument("tailLines: must not be negative")
	}
	m, _, err := l.s.read(ctx, kinds["Pod"], ns, r.GetName())
	if err != nil {
		return err
	}
	nodeName := m.(*waskv1.Pod).GetSpec().GetNodeName()
	if nodeName == "" {
		return failedPrecondition("pod %q is not bound to a node yet: it has no logs", r.GetName())
	}
	nm, _, err := l.s.read(ctx, kinds["Node"], "", nodeName)
	if err != nil {
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("pod %q: its node %q: %w", r.GetName(), nodeName, err))
	}
	node := nm.(*waskv1.Node)
	addr := ""
	for _, a := range node.GetStatus().GetAddresses() {
		if a.GetType() == "API" {
			addr = a.GetAddress()
		}
	}
	pin := node.GetMetadata().GetAnnotations()[nodeAPICertAnnotation]
	if addr == "" || pin == "" {
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("node %q publishes no API address and certificate: it serves no logs", nodeName))
	}
	if l.nodeToken == "" {
		return connect.NewError(connect.CodeUnavailable, errors.New("the apiserver has no node credential to reach nodes with"))
	}
	nreq := connect.NewRequest(&waskv1.LogsRequest{Namespace: ns, Name: r.GetName(), Follow: r.GetFollow(), TailLines: r.GetTailLines(), Previous: r.GetPrevious()})
	nreq.Header().Set("Authorization", "Bearer "+l.nodeToken)
	nstream, err := l.client(addr, pin).Logs(ctx, nreq)
	if err != nil {
		return nodeError(nodeName, err)
	}
	defer nstream.Close()
	for nstream.Receive() {
		if err := stream.Send(nstream.Msg()); err != nil {
			return err
		}
	}
	if err := nstream.Err(); err != nil && ctx.Err() == nil {
		return nodeError(nodeName, err)
	}
	return nil
}

// nodeError passes a node's NotFound/FailedPrecondition through and makes
// other failures Unavailable, naming the node.
func nodeError(node string, err error) error {
	switch c := connect.CodeOf(err); c {
	case connect.CodeNotFound, connect.CodeFailedPrecondition, connect.CodeInvalidArgument:
		var ce *connect.Error
		if errors.As(err, &ce) {
			return connect.NewError(c, fmt.Errorf("node %s: %s", node, ce.Message()))
		}
	}
	return connect.NewError(connect.CodeUnavailable, fmt.Errorf("node %s: %w", node, err))
}

// client returns a LogService client for a node's API, trusting exactly
// the certificate whose SHA-256 is pin.
func (l *logProxy) client(addr, pin string) waskv1connect.LogServiceClient {
	key := addr + "|" + pin
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.clients[key]; ok {
		return c
	}
	want, _ := hex.DecodeString(pin)
	tr := &http.Transport{
		ForceAttemptHTTP2: true,
		IdleConnTimeout:   90 * time.Second,
		TLSClientConfig: &tls.Config{
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: true, // verified by pin below instead of a CA
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) == 0 {
					return errors.New("node API presented no certificate")
				}
				sum := sha256.Sum256(raw[0])
				if !bytes.Equal(sum[:], want) {
					return errors.New("node API certificate does not match the one its Node publishes")
				}
				return nil
			},
		},
	}
	c := waskv1connect.NewLogServiceClient(&http.Client{Transport: tr}, "https://"+addr)
	if l.clients == nil {
		l.clients = map[string]waskv1connect.LogServiceClient{}
	}
	l.clients[key] = c
	return c
}

// LogHandler returns the path to mount the LogService on and its handler
// (the proxy to nodes); opts apply to every RPC.
func (s *Server) LogHandler(cfg ServeConfig, opts ...connect.HandlerOption) (string, http.Handler) {
	token := cfg.NodeToken
	if st, ok := cfg.Tokens.(StaticTokens); ok && token == "" {
		token = st.NodeJoin
	}
	return waskv1connect.NewLogServiceHandler(&logProxy{s: s, nodeToken: token}, opts...)
}
