package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/nodecert"
	"github.com/wask-dev/wask/meshproxy"
	"github.com/wask-dev/wask/wasmlet"
)

// The mesh's default addresses, for `wask up` and `wask node`.
const (
	defaultIngressAddr = "127.0.0.1:8080"
	defaultMeshAddr    = "127.0.0.1:7071"
)

// meshOptions say where a node's meshproxy listens.
type meshOptions struct {
	// ingressAddr is the HTTP ingress (TCP), meshAddr the QUIC listener
	// other nodes tunnel to (UDP). Port 0 picks a free port; the Node
	// publishes the address actually bound.
	ingressAddr, meshAddr string
	// registry gets the proxy's metrics (nil: none).
	registry prometheus.Registerer
}

// nodeAgent is one node: a wasmlet and its meshproxy in one process. The
// proxy calls this node's pods in-process through the wasmlet, and the
// pods' outbound calls leave through the proxy.
type nodeAgent struct {
	wasmlet *wasmlet.Wasmlet
	proxy   *meshproxy.Proxy
	log     *slog.Logger
	// ingress is the ingress's published address.
	ingress string
}

// ingressAddr is where the node's ingress takes Service traffic.
func (a *nodeAgent) ingressAddr() string { return a.ingress }

// newNodeAgent binds the mesh's listeners, gets the node's mesh
// certificate from the control plane (or its data dir) and builds both
// parts; nothing runs until run. cfg.IngressAddr, cfg.MeshAddr and
// cfg.Outbound are set here.
func newNodeAgent(ctx context.Context, cfg wasmlet.Config, mo meshOptions, log *slog.Logger) (*nodeAgent, error) {
	ingress, err := net.Listen("tcp", mo.ingressAddr)
	if err != nil {
		return nil, fmt.Errorf("ingress: listen on %s: %w (pick another --ingress-addr)", mo.ingressAddr, err)
	}
	mesh, err := net.ListenPacket("udp", mo.meshAddr)
	if err != nil {
		ingress.Close()
		return nil, fmt.Errorf("mesh: listen on udp %s: %w (pick another --mesh-addr)", mo.meshAddr, err)
	}
	closeBoth := func() { ingress.Close(); mesh.Close() }
	a := &nodeAgent{log: log}
	cfg.IngressAddr = publishedAddr(ingress.Addr(), cfg.InternalIP)
	a.ingress = cfg.IngressAddr
	cfg.MeshAddr = publishedAddr(mesh.LocalAddr(), cfg.InternalIP)
	// The wasmlet has checked the pod's spec.outbound before this is called.
	cfg.Outbound = func(ctx context.Context, namespace, _ string, req *http.Request) (*http.Response, error) {
		return a.proxy.Route(ctx, namespace, req)
	}
	if a.wasmlet, err = wasmlet.New(cfg); err != nil {
		closeBoth()
		return nil, err
	}
	// A client of its own with the wasmlet's credentials (NodeName is
	// what the wasmlet sets: its own name).
	nodeClientCfg := cfg.Client
	nodeClientCfg.NodeName = cfg.Name
	c, err := client.New(nodeClientCfg)
	if err != nil {
		closeBoth()
		return nil, err
	}
	certCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	id, err := nodecert.LoadOrRequest(certCtx, c, filepath.Join(cfg.DataDir, "mesh"), cfg.Name, time.Now())
	cancel()
	if err != nil {
		closeBoth()
		return nil, fmt.Errorf("node %s: mesh certificate: %w", cfg.Name, err)
	}
	a.proxy, err = meshproxy.New(meshproxy.Config{
		Client:          c,
		NodeName:        cfg.Name,
		Local:           a.wasmlet,
		TLS:             meshproxy.NodeTLS{Cert: id.Cert, CA: id.CA},
		IngressListener: ingress,
		MeshConn:        mesh,
		Registry:        mo.registry,
		Logger:          log.With("component", "meshproxy"),
	})
	if err != nil {
		closeBoth()
		return nil, err
	}
	return a, nil
}

// publishedAddr is addr as other nodes and clients dial it: an unspecified
// host (listening on every interface) is replaced with ip, or 127.0.0.1.
func publishedAddr(addr net.Addr, ip string) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if h := net.ParseIP(host); h == nil || h.IsUnspecified() {
		host = ip
		if host == "" {
			host = "127.0.0.1"
		}
	}
	return net.JoinHostPort(host, port)
}

// run runs the node until ctx ends, then drains its pods for up to
// drainTimeout while the proxy still routes (to other nodes' endpoints,
// once the endpoints controller has dropped these), then stops the proxy.
func (a *nodeAgent) run(ctx context.Context, drainTimeout time.Duration) error {
	proxyCtx, stopProxy := context.WithCancel(context.WithoutCancel(ctx))
	defer stopProxy()
	proxyDone := make(chan error, 1)
	go func() { proxyDone <- a.proxy.Run(proxyCtx) }()
	nodeCtx, stopNode := context.WithCancel(ctx)
	defer stopNode()
	nodeDone := make(chan error, 1)
	go func() { nodeDone <- runWasmlet(nodeCtx, a.wasmlet, a.log, drainTimeout) }()
	var nodeErr, proxyErr error
	select {
	case nodeErr = <-nodeDone:
		stopProxy()
		proxyErr = <-proxyDone
	case proxyErr = <-proxyDone:
		if proxyErr != nil {
			proxyErr = fmt.Errorf("meshproxy: %w", proxyErr)
		}
		stopNode() // a node without its proxy serves no traffic: stop it too
		nodeErr = <-nodeDone
	}
	return errors.Join(nodeErr, proxyErr)
}

// serveMetrics serves reg at http://addr/metrics, and Go's profiles at
// /debug/pprof/ (as kube-proxy does on its metrics address), until the
// returned function is called.
func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w (pick another --metrics-addr)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	return func() { srv.Close(); <-done }, nil
}
