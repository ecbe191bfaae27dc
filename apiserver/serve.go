package apiserver

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wask-dev/wask/api/wask/v1/waskv1connect"
	"github.com/wask-dev/wask/store"
)

var watchProcedure = waskv1connect.ObjectServiceWatchProcedure

// compressMinBytes is the smallest response message the apiserver
// compresses when the client accepts gzip.
const compressMinBytes = 4 << 10

// newFastGzipWriter returns a gzip writer at gzip.BestSpeed.
func newFastGzipWriter() *gzip.Writer {
	w, err := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	if err != nil {
		panic(err) // BestSpeed is a valid level
	}
	return w
}

// ServeConfig configures the apiserver's listener.
type ServeConfig struct {
	// Listener to serve on. Required.
	Listener net.Listener
	// TLS serves HTTPS (HTTP/2 and HTTP/1.1). Nil requires Insecure.
	TLS *tls.Config
	// Insecure serves plain HTTP (HTTP/1.1 and h2c) when TLS is nil: only
	// for tests and when asked for.
	Insecure bool
	// Tokens authenticates every RPC. Required.
	Tokens Tokens
	// NodeToken is the credential the apiserver presents to nodes' APIs
	// when it proxies LogService to them. Default: Tokens' NodeJoin when
	// Tokens is a StaticTokens; empty: logs are Unavailable.
	NodeToken string
	// Registry gets the metrics served on /metrics. Default: a new one.
	Registry *prometheus.Registry
	// MaxRequestBytes bounds one request message and a unary request's
	// body. Default: 4 MiB.
	MaxRequestBytes int64
	// MaxWatches bounds concurrent Watch streams. Default: 10,000.
	MaxWatches int
	// ShutdownTimeout is how long Serve waits for requests in flight when
	// ctx ends. Default: 5 s.
	ShutdownTimeout time.Duration
}

// Handler returns the apiserver's whole HTTP handler: ObjectService and
// ModuleService (authenticated), gRPC health and reflection, /livez,
// /readyz and /metrics.
func (s *Server) HTTPHandler(cfg ServeConfig) (http.Handler, error) {
	if cfg.Tokens == nil {
		return nil, errors.New("apiserver: serve: Tokens is required")
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 4 << 20
	}
	if cfg.MaxWatches <= 0 {
		cfg.MaxWatches = 10_000
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	opts := []connect.HandlerOption{
		connect.WithInterceptors(
			metricsInterceptor{m: m, watchSlots: make(chan struct{}, cfg.MaxWatches)},
			authInterceptor{s: s, tokens: cfg.Tokens},
		),
		connect.WithReadMaxBytes(int(cfg.MaxRequestBytes)),
		// gzip cost a third of the CPU of watch fan-out and a quarter of
		// a List while saving little on small objects (apiserver/README.md).
		connect.WithCompressMinBytes(compressMinBytes),
		// Large responses (List pages) are still gzipped, at the fastest
		// level: the default level cost a List of 10,000 pods ~30 ms of
		// server CPU for a few percent more compression.
		connect.WithCompression("gzip",
			func() connect.Decompressor { return &gzip.Reader{} },
			func() connect.Compressor { return newFastGzipWriter() },
		),
	}
	mux := http.NewServeMux()
	services := []string{waskv1connect.ObjectServiceName, waskv1connect.ModuleServiceName, waskv1connect.LogServiceName, waskv1connect.CertificateServiceName}
	path, h := s.Handler(opts...)
	mux.Handle(path, limitUnaryBody(h, cfg.MaxRequestBytes))
	path, h = s.ModuleHandler(opts...)
	mux.Handle(path, h) // streams: bounded per message by WithReadMaxBytes
	mux.Handle(s.LogHandler(cfg, opts...))
	path, h = s.CertificateHandler(opts...)
	mux.Handle(path, limitUnaryBody(h, cfg.MaxRequestBytes))
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(services...)))
	reflector := grpcreflect.NewStaticReflector(services...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector, connect.WithInterceptors(authInterceptor{s: s, tokens: cfg.Tokens})))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector, connect.WithInterceptors(authInterceptor{s: s, tokens: cfg.Tokens})))
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.ready(r.Context()); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	return mux, nil
}

// ready checks the store answers a read.
func (s *Server) ready(ctx context.Context) error {
	_, err := s.st.List(ctx, storeListOne)
	return err
}

// limitUnaryBody caps the body of unary calls (streams are bounded per
// message), so an oversized request is refused without being read whole.
func limitUnaryBody(h http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/Watch") {
			r.Body = http.MaxBytesReader(w, r.Body, limit+16<<10)
		}
		h.ServeHTTP(w, r)
	})
}

// Serve serves the apiserver on cfg.Listener until ctx ends, then shuts
// down gracefully (open watches end at once; other requests get
// ShutdownTimeout to finish). It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, cfg ServeConfig) error {
	if cfg.Listener == nil {
		return errors.New("apiserver: serve: Listener is required")
	}
	if cfg.TLS == nil && !cfg.Insecure {
		return errors.New("apiserver: serve: TLS is required (or Insecure, for tests)")
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	h, err := s.HTTPHandler(cfg)
	if err != nil {
		return err
	}
	if err := s.EnsureSystemNamespaces(ctx); err != nil {
		return err
	}
	baseCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	lis := cfg.Listener
	if cfg.TLS != nil {
		srv.Protocols.SetHTTP2(true)
		t := cfg.TLS.Clone()
		t.NextProtos = []string{"h2", "http/1.1"}
		lis = tls.NewListener(lis, t)
	} else {
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("apiserver: serve: %w", err)
	case <-ctx.Done():
	}
	cancelRequests() // ends watches, which would otherwise hold Shutdown
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	<-errc
	if err != nil {
		return fmt.Errorf("apiserver: shutdown: %w", err)
	}
	return nil
}

// storeListOne is the cheapest read that proves the store answers.
var storeListOne = store.ListOptions{Prefix: []byte(registryPrefix + "namespaces/"), Limit: 1}
