package wasmlet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/api/wask/v1/waskv1connect"
)

// nodeAPI is the node's own Connect endpoint (LogService), served with
// TLS on a self-signed certificate whose hash the Node publishes
// (APICertAnnotation), to callers presenting the node join secret.
type nodeAPI struct {
	srv *http.Server
	lis net.Listener
	log *slog.Logger
}

// listenAPI starts listening for the node API (nil if disabled).
func (w *Wasmlet) listenAPI() (*nodeAPI, error) {
	if w.cfg.APIAddr == "-" {
		return nil, nil
	}
	cert, hash, err := loadOrCreateAPICert(w.cfg.DataDir, w.cfg.InternalIP, w.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("wasmlet: node API certificate: %w", err)
	}
	lis, err := net.Listen("tcp", w.cfg.APIAddr)
	if err != nil {
		return nil, fmt.Errorf("wasmlet: node API: listen on %s: %w", w.cfg.APIAddr, err)
	}
	w.apiAddr = lis.Addr().String()
	w.apiCertHash = hash
	mux := http.NewServeMux()
	mux.Handle(waskv1connect.NewLogServiceHandler(logService{w}))
	srv := &http.Server{
		Handler:           w.requireToken(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(w.log.Handler(), slog.LevelDebug),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}},
	}
	return &nodeAPI{srv: srv, lis: lis, log: w.log}, nil
}

// serve serves until ctx ends, then closes every connection (follows end).
func (a *nodeAPI) serve(ctx context.Context) {
	errc := make(chan error, 1)
	go func() { errc <- a.srv.ServeTLS(a.lis, "", "") }()
	select {
	case err := <-errc:
		a.log.Error("node API stopped", "err", err)
		return
	case <-ctx.Done():
	}
	a.srv.Close()
	<-errc
}

// requireToken lets through only requests bearing the join secret.
func (w *Wasmlet) requireToken(h http.Handler) http.Handler {
	want := []byte(w.cfg.Client.Token)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || len(want) == 0 || subtle.ConstantTimeCompare([]byte(tok), want) != 1 {
			connectError(rw, connect.NewError(connect.CodeUnauthenticated, errors.New("node API: a node credential is required")))
			return
		}
		h.ServeHTTP(rw, r)
	})
}

// connectError writes err as a Connect (unary-style JSON) error.
func connectError(rw http.ResponseWriter, err *connect.Error) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintf(rw, `{"code":"unauthenticated","message":%q}`, err.Message())
}

// logService serves LogService for this node's pods.
type logService struct{ w *Wasmlet }

func (s logService) Logs(ctx context.Context, req *connect.Request[waskv1.LogsRequest], stream *connect.ServerStream[waskv1.LogsResponse]) error {
	r := req.Msg
	ns := r.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	err := s.w.Logs(ctx, ns, r.GetName(), LogOptions{Follow: r.GetFollow(), TailLines: int(r.GetTailLines()), Previous: r.GetPrevious()},
		func(b []byte) error { return stream.Send(&waskv1.LogsResponse{Data: b}) })
	switch {
	case errors.Is(err, ErrPodNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, ErrNoPreviousRun):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	}
	return err
}

// Errors of Logs and Invoke.
var (
	ErrPodNotFound   = errors.New("pod not found on this node")
	ErrNoPreviousRun = errors.New("the pod has no previous run")
)

// Logs sends a pod's log to out (in parts, in order) as opts say.
func (w *Wasmlet) Logs(ctx context.Context, namespace, pod string, opts LogOptions, out func([]byte) error) error {
	w.mu.Lock()
	p := w.running[namespace+"/"+pod]
	w.mu.Unlock()
	if p == nil {
		return fmt.Errorf("logs of %s/%s: %w", namespace, pod, ErrPodNotFound)
	}
	run := p.logs(opts.Previous)
	if run == nil {
		return fmt.Errorf("logs of %s/%s: %w", namespace, pod, ErrNoPreviousRun)
	}
	return run.stream(ctx, opts, out)
}

// loadOrCreateAPICert returns the node API's certificate (made on first
// use, kept in dataDir) and the hex SHA-256 of its DER bytes.
func loadOrCreateAPICert(dataDir, ip string, now time.Time) (tls.Certificate, string, error) {
	certPath, keyPath := filepath.Join(dataDir, "api.crt"), filepath.Join(dataDir, "api.key")
	if cert, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		sum := sha256.Sum256(cert.Certificate[0])
		return cert, hex.EncodeToString(sum[:]), nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "wask-node-api"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if p := net.ParseIP(ip); p != nil && !p.IsLoopback() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, p)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return tls.Certificate{}, "", err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return tls.Certificate{}, "", err
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, "", err
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	sum := sha256.Sum256(der)
	return cert, hex.EncodeToString(sum[:]), nil
}
