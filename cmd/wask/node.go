package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/pki"
	"github.com/wask-dev/wask/internal/token"
	"github.com/wask-dev/wask/wasmlet"
)

// nodeOptions are the flags of `wask node`.
type nodeOptions struct {
	server, joinTokenFile, name, dataDir string
	nodeAddr, ingressAddr, meshAddr      string
	metricsAddr                          string
	hostPaths                            []string
	compileCacheDir                      string
	logLevel                             string
	drainTimeout, fenceAfter             time.Duration
}

func newNodeCmd(e *env) *cobra.Command {
	var o nodeOptions
	c := &cobra.Command{
		Use:   "node",
		Short: "Run a node (wasmlet) that joins a control plane started with \"wask server\"",
		Long: `Run a node agent (wasmlet) that joins the control plane at --server with the join token that
"wask server" wrote to <its data dir>/node-token. The token carries the hash of the cluster CA, so
the node checks it reaches the right cluster before it sends the token's secret.

Several nodes can run side by side on one machine, each with its own --name, --data-dir and
addresses. On SIGINT/SIGTERM the node drains: its pods stop gracefully (within --drain-timeout).`,
		Args: argsRange(0, 0),
		RunE: func(c *cobra.Command, _ []string) error { return e.runNode(c.Context(), o) },
	}
	f := c.Flags()
	f.StringVar(&o.server, "server", "https://127.0.0.1:7070", "the apiserver's URL")
	f.StringVar(&o.joinTokenFile, "join-token-file", "", "file holding the join token (wask1.<ca hash>.<secret>); required")
	f.StringVar(&o.name, "name", defaultNodeName(), "the node's name (a DNS-1123 subdomain)")
	f.StringVar(&o.dataDir, "data-dir", "", "where the node keeps modules and compiled code (default <XDG data dir>/wask-node-<name>)")
	f.StringVar(&o.nodeAddr, "node-addr", "127.0.0.1:0", "address of the node's own API (logs), host:port")
	f.StringVar(&o.ingressAddr, "ingress-addr", defaultIngressAddr, "address of the node's HTTP ingress (Service traffic; port 0: any free port)")
	f.StringVar(&o.meshAddr, "mesh-addr", defaultMeshAddr, "UDP address of the node's mesh (QUIC, mutual TLS) listener that other nodes tunnel to (port 0: any free port)")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve the node's Prometheus metrics (mesh traffic per Service) at http://ADDR/metrics, and Go's profiles at /debug/pprof/ (empty: off)")
	f.StringSliceVar(&o.hostPaths, "allow-host-path", nil, "a host directory pods may mount (spec.mounts) with everything under it; repeatable (default: none)")
	f.StringVar(&o.compileCacheDir, "compile-cache-dir", defaultCompileCacheDir(), "wazero's compilation cache, shared by the nodes of this machine")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.DurationVar(&o.drainTimeout, "drain-timeout", 30*time.Second, "how long pods get to stop when the node shuts down")
	f.DurationVar(&o.fenceAfter, "fence-after", 0, "stop every pod after this long without renewing the node's Lease, start them again once renewed (0: never)")
	return c
}

// defaultCompileCacheDir is $XDG_CACHE_HOME/wask/compiled (compiled code
// is derived data, like Go's build cache), or "" (the node's data dir).
func defaultCompileCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "wask", "compiled")
	}
	return ""
}

var nodeNameCleaner = regexp.MustCompile(`[^a-z0-9.-]+`)

// defaultNodeName is the host name as a DNS-1123 subdomain, or "node-1".
func defaultNodeName() string {
	h, err := os.Hostname()
	if err != nil {
		return "node-1"
	}
	n := strings.Trim(nodeNameCleaner.ReplaceAllString(strings.ToLower(h), "-"), "-.")
	if n == "" {
		return "node-1"
	}
	return n
}

// runNode is `wask node`.
func (e *env) runNode(ctx context.Context, o nodeOptions) error {
	log, err := e.logger(o.logLevel)
	if err != nil {
		return err
	}
	if o.joinTokenFile == "" {
		return usagef("--join-token-file is required (wask server writes <data-dir>/node-token)")
	}
	tok, err := token.ReadFile(o.joinTokenFile)
	if err != nil {
		return fmt.Errorf("join token: %w", err)
	}
	join, err := token.ParseJoin(tok)
	if err != nil {
		return usagef("--join-token-file %s: %v", o.joinTokenFile, err)
	}
	if o.dataDir == "" {
		o.dataDir = filepath.Join(filepath.Dir(defaultDataDir()), "wask-node-"+o.name)
	}
	caPEM, err := discoverCA(ctx, o.server, join.CAHash)
	if err != nil {
		return err
	}
	cfg := wasmlet.Config{
		Client:              client.Config{Server: o.server, CAData: caPEM, Token: join.Secret},
		Name:                o.name,
		DataDir:             o.dataDir,
		CompilationCacheDir: o.compileCacheDir,
		APIAddr:             o.nodeAddr,
		AllowedHostPaths:    absPaths(o.hostPaths),
		FenceAfter:          o.fenceAfter,
		Version:             version,
		Logger:              log.With("component", "wasmlet"),
	}
	mo := meshOptions{ingressAddr: o.ingressAddr, meshAddr: o.meshAddr}
	var stopMetrics func()
	if o.metricsAddr != "" {
		reg := prometheus.NewRegistry()
		mo.registry = reg
		if stopMetrics, err = serveMetrics(o.metricsAddr, reg, log); err != nil {
			return err
		}
		defer stopMetrics()
	}
	a, err := newNodeAgent(ctx, cfg, mo, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	fmt.Fprintf(e.stdout, "node %s joining %s (data in %s; ingress http://%s)\n", o.name, o.server, o.dataDir, a.ingressAddr())
	return a.run(ctx, o.drainTimeout)
}

// runWasmlet runs w until ctx ends, then drains it for up to drainTimeout.
func runWasmlet(ctx context.Context, w *wasmlet.Wasmlet, log *slog.Logger, drainTimeout time.Duration) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	drainCtx, stop := context.WithTimeout(context.Background(), drainTimeout)
	if err := w.Drain(drainCtx); err != nil {
		log.Warn("drain", "err", err)
	}
	stop()
	cancel()
	return <-done
}

// discoverCA fetches the apiserver's certificate chain without trusting it,
// picks the CA certificate whose public key hash is caHash (from the join
// token), and checks the server's certificate against it: the node trusts
// the cluster it meant to join, and no other. The apiserver sends its CA
// with its certificate for this.
func discoverCA(ctx context.Context, server, caHash string) ([]byte, error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, usagef("--server %q: want an https:// URL", server)
	}
	host := u.Hostname()
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(host, "443")
	}
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}} // verified below
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the apiserver at %s: %w", server, err)
	}
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	conn.Close()
	if len(certs) == 0 {
		return nil, fmt.Errorf("the apiserver at %s sent no certificate", server)
	}
	for _, c := range certs {
		if pki.CertHash(c) != caHash {
			continue
		}
		pool := x509.NewCertPool()
		pool.AddCert(c)
		if _, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			return nil, fmt.Errorf("the apiserver at %s: its certificate does not check against the cluster CA: %w", server, err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), nil
	}
	return nil, errors.New("the apiserver at " + server + " is not the cluster the join token names (no certificate in its chain has the token's CA hash)")
}

// startLocalNode runs a wasmlet in-process next to the apiserver (`wask
// up`); the returned function drains and stops it and returns Run's error.
func startLocalNode(ctx context.Context, log *slog.Logger, url, caPath, joinSecret, dataDir string, mo meshOptions, hostPaths []string) (stop func() error, err error) {
	a, err := newNodeAgent(ctx, wasmlet.Config{
		Client:              client.Config{Server: url, CA: caPath, Token: joinSecret},
		Name:                defaultNodeName(),
		DataDir:             filepath.Join(dataDir, "node"),
		CompilationCacheDir: defaultCompileCacheDir(),
		AllowedHostPaths:    absPaths(hostPaths),
		Version:             version,
		Logger:              log.With("component", "wasmlet"),
	}, mo, log)
	if err != nil {
		return nil, err
	}
	nodeCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.run(nodeCtx, 10*time.Second) }()
	return func() error {
		cancel()
		return <-done
	}, nil
}

// absPaths makes each of paths absolute (relative to the working directory).
func absPaths(paths []string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if a, err := filepath.Abs(p); err == nil {
			p = a
		}
		out = append(out, p)
	}
	return out
}
