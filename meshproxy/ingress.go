package meshproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ingress is the node's HTTP handler for Service traffic.
type ingress struct {
	table   func() *Table
	fwd     *forwarder
	timeout time.Duration
	newID   func() string
	now     func() time.Time
	logger  *slog.Logger
	metrics *metrics
}

func (in *ingress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := in.now()
	id := r.Header.Get(HeaderRequestID)
	if id == "" {
		id = in.newID()
	}
	route, strip := in.table().Lookup(r.Host, r.URL.Path)
	if route == nil {
		in.metrics.unrouted.Inc()
		w.Header().Set(HeaderRequestID, id)
		writeError(w, http.StatusNotFound, fmt.Sprintf("no service for host %q or path %q (route by host <service>.<namespace> or path /<namespace>/<service>/)", r.Host, r.URL.Path))
		in.logger.Info("request", "id", id, "method", r.Method, "host", r.Host, "path", r.URL.Path, "code", http.StatusNotFound, "client", r.RemoteAddr)
		return
	}
	inflight := in.metrics.inflight.WithLabelValues(route.Namespace, route.Name)
	inflight.Inc()
	defer inflight.Dec()

	ctx := r.Context()
	if in.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, in.timeout)
		defer cancel()
	}
	out := r.Clone(ctx)
	forwardHeaders(out, r, id)
	stripPath(out, strip)
	if out.ContentLength == 0 {
		out.Body = http.NoBody
	}
	sw := &statusWriter{ResponseWriter: w}
	sw.Header().Set(HeaderRequestID, id)
	e, err := in.fwd.forward(ctx, route, clientIP(r.RemoteAddr), out, sw)
	code := sw.code
	if !sw.wrote {
		code = http.StatusOK
	}
	elapsed := in.now().Sub(start)
	in.metrics.requests.WithLabelValues(route.Namespace, route.Name, codeLabel(code)).Inc()
	in.metrics.latency.WithLabelValues(route.Namespace, route.Name).Observe(elapsed.Seconds())
	attrs := []any{"id", id, "method", r.Method, "host", r.Host, "path", r.URL.Path, "service", route.Namespace + "/" + route.Name,
		"code", code, "bytes", sw.bytes, "duration", elapsed, "client", r.RemoteAddr}
	if e != nil {
		attrs = append(attrs, "pod", e.Pod, "node", e.Node)
	}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	in.logger.Info("request", attrs...)
}

// codeLabel avoids an allocation for the common codes.
func codeLabel(code int) string {
	switch code {
	case 200:
		return "200"
	case 404:
		return "404"
	case 502:
		return "502"
	case 503:
		return "503"
	case 504:
		return "504"
	}
	return fmt.Sprint(code)
}

// serveHTTP serves h on lis until ctx ends: HTTP/1.1 and HTTP/2, over TLS
// when tlsConf is set (h2 by ALPN), else cleartext (h2c with prior
// knowledge). It returns after the server has shut down.
func serveHTTP(ctx context.Context, lis net.Listener, h http.Handler, tlsConf *tls.Config, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	if tlsConf != nil {
		srv.Protocols.SetHTTP2(true)
		srv.TLSConfig = tlsConf.Clone()
	} else {
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
	}()
	var err error
	if tlsConf != nil {
		err = srv.ServeTLS(lis, "", "")
	} else {
		err = srv.Serve(lis)
	}
	<-stopped
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("meshproxy: ingress on %s: %w", lis.Addr(), err)
}
