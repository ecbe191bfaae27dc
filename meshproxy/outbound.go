package meshproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// OutboundFunc sends a guest's request to a Service and returns its
// response; the wasmlet gives one to each pod for the `wask` host module.
type OutboundFunc func(ctx context.Context, req *http.Request) (*http.Response, error)

// Errors of an OutboundFunc (wrapped with the details).
var (
	// ErrOutboundDenied: the pod's spec.outbound does not list the Service.
	ErrOutboundDenied = errors.New("outbound call not allowed by the pod's spec.outbound")
	// ErrNoService: the URL names no known Service.
	ErrNoService = errors.New("no such service")
)

// Outbound returns the function a pod in namespace uses to call Services:
// a request for http://<service>.<namespace>[.<cluster domain>]/... (or
// http://<service>/... for the pod's own namespace) goes to a ready
// endpoint of that Service, local or on another node, exactly as an
// ingress request does, if allow (the pod's spec.outbound) lists the
// Service. Anything else fails with ErrOutboundDenied or ErrNoService; the
// Service's own failures come back as responses (503, 504, ...).
func (p *Proxy) Outbound(namespace string, allow []*waskv1.OutboundService) OutboundFunc {
	allowed := make(map[string]bool, len(allow))
	for _, a := range allow {
		ns := a.GetNamespace()
		if ns == "" {
			ns = namespace
		}
		allowed[ns+"/"+a.GetService()] = true
	}
	return func(ctx context.Context, req *http.Request) (*http.Response, error) {
		return p.outbound(ctx, namespace, allowed, req)
	}
}

// Route sends req, a call from a pod in namespace, to the Service its URL
// names, as Outbound's function does, without checking an allow-list: it
// is for a caller that has checked the pod's spec.outbound itself (the
// wasmlet, which cmd/wask wires to it).
func (p *Proxy) Route(ctx context.Context, namespace string, req *http.Request) (*http.Response, error) {
	return p.outbound(ctx, namespace, nil, req)
}

// outbound sends req to its Service; a nil allowed lets it call any.
func (p *Proxy) outbound(ctx context.Context, namespace string, allowed map[string]bool, req *http.Request) (*http.Response, error) {
	if req.URL == nil || (req.URL.Scheme != "http" && req.URL.Scheme != "") {
		return nil, fmt.Errorf("meshproxy: outbound: url: want http://<service>.<namespace>/..., not %v", req.URL)
	}
	host := req.URL.Host
	if host == "" {
		host = req.Host
	}
	t := p.table.Load()
	ns, svc, ok := t.splitHost(host)
	if !ok && host != "" && !strings.Contains(host, ".") {
		ns, svc, ok = namespace, strings.ToLower(stripPort(host)), true
	}
	if !ok {
		return nil, fmt.Errorf("meshproxy: outbound: host %q: want <service>.<namespace>: %w", host, ErrNoService)
	}
	if allowed != nil && !allowed[ns+"/"+svc] {
		return nil, fmt.Errorf("meshproxy: outbound to %s/%s from namespace %s: %w", ns, svc, namespace, ErrOutboundDenied)
	}
	route := t.Service(ns, svc)
	if route == nil {
		return nil, fmt.Errorf("meshproxy: outbound to %s/%s: %w", ns, svc, ErrNoService)
	}
	out := req.Clone(ctx)
	if out.Host == "" {
		out.Host = req.URL.Host
	}
	if out.Body == nil || out.ContentLength == 0 && out.Body == http.NoBody {
		out.Body = http.NoBody
	}
	if out.Header.Get(HeaderRequestID) == "" {
		out.Header.Set(HeaderRequestID, p.cfg.NewRequestID())
	}
	removeHopHeaders(out.Header)
	pw := newPipeWriter(out)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				p.cfg.Logger.Error("meshproxy: outbound call panicked", "service", ns+"/"+svc, "panic", v)
				pw.finish(fmt.Errorf("meshproxy: outbound to %s/%s: pod call panicked: %v", ns, svc, v))
			}
		}()
		sw := &statusWriter{ResponseWriter: pw}
		_, err := p.fwd.forward(ctx, route, "", out, sw)
		if sw.proxyError {
			err = nil // the error is the response
		}
		pw.finish(err)
	}()
	select {
	case resp := <-pw.head:
		return resp, nil
	case <-ctx.Done():
		pw.pr.CloseWithError(ctx.Err()) // no one will read: end the handler's writes
		return nil, fmt.Errorf("meshproxy: outbound to %s/%s: %w", ns, svc, ctx.Err())
	}
}

func stripPort(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		return host[:i]
	}
	return host
}

// pipeWriter turns a handler's writes into an *http.Response whose body
// streams what the handler writes.
type pipeWriter struct {
	req    *http.Request
	header http.Header
	status int
	pr     *io.PipeReader
	pw     *io.PipeWriter
	once   sync.Once
	head   chan *http.Response
}

func newPipeWriter(req *http.Request) *pipeWriter {
	pr, pw := io.Pipe()
	return &pipeWriter{req: req, header: http.Header{}, pr: pr, pw: pw, head: make(chan *http.Response, 1)}
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
		w.sendHead()
	}
}

func (w *pipeWriter) sendHead() {
	w.once.Do(func() {
		if w.status == 0 {
			w.status = http.StatusOK
		}
		cl := int64(-1)
		if n, err := strconv.ParseInt(w.header.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
			cl = n
		}
		w.head <- &http.Response{
			Status: fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)), StatusCode: w.status,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: w.header.Clone(), ContentLength: cl, Body: w.pr, Request: w.req,
		}
	})
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.sendHead()
	return w.pw.Write(b)
}

// Flush sends the head; the body streams as written.
func (w *pipeWriter) Flush() { w.sendHead() }

// finish ends the body (with err, if the call failed mid-body).
func (w *pipeWriter) finish(err error) {
	w.sendHead()
	w.pw.CloseWithError(err)
}
