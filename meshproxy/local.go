package meshproxy

import (
	"context"
	"errors"
	"net/http"
)

// Local calls a pod on this node in-process: the wasmlet, wired by
// cmd/wask. Invoke writes the pod's response to w and returns when the pod
// is done with the request or ctx ends (it must honour ctx: the proxy's
// request timeout is a context deadline). When the request does not reach
// the pod (the pod does not run here, or is starting or stopping), Invoke
// answers itself, with the header HeaderNotReached set and without reading
// r.Body; the proxy then sends the request to another endpoint.
type Local interface {
	Invoke(ctx context.Context, namespace, pod string, w http.ResponseWriter, r *http.Request)
}

// PodChecker may be implemented by a Local: Serves reports whether a pod
// runs on this node and takes requests now. When it says no, the proxy
// knows the request never reached a pod (the Endpoints are behind: the pod
// is stopping or not started) and sends it to another endpoint instead of
// returning the Local's 404 or 503.
type PodChecker interface {
	Serves(namespace, pod string) bool
}

// serves asks l's PodChecker, if it has one.
func serves(l Local, namespace, pod string) bool {
	c, ok := l.(PodChecker)
	return !ok || c.Serves(namespace, pod)
}

// HeaderNotReached marks a response a Local made itself because the
// request did not reach the pod. The wasmlet sets it (it calls it
// wasmlet.InvokeErrorHeader).
const HeaderNotReached = "Wask-Invoke-Error"

// invokeLocal calls the pod through l and reports whether it took the
// request; when it did not (HeaderNotReached), nothing was written to w.
func invokeLocal(ctx context.Context, l Local, namespace, pod string, w http.ResponseWriter, r *http.Request) (reached bool) {
	g := gateWriter{ResponseWriter: w}
	l.Invoke(ctx, namespace, pod, &g, r)
	return !g.refused
}

// gateWriter passes a response through unless it is marked
// HeaderNotReached: then it drops it, and the headers the Local set for it.
type gateWriter struct {
	http.ResponseWriter
	passed, refused bool
}

func (g *gateWriter) WriteHeader(code int) {
	if !g.passed && !g.refused && code >= 200 {
		if h := g.Header(); h.Get(HeaderNotReached) != "" {
			g.refused = true
			h.Del(HeaderNotReached)
			h.Del("Content-Type") // set by http.Error
			h.Del("X-Content-Type-Options")
			return
		}
		g.passed = true
	}
	if !g.refused {
		g.ResponseWriter.WriteHeader(code)
	}
}

func (g *gateWriter) Write(b []byte) (int, error) {
	if !g.passed && !g.refused {
		g.WriteHeader(http.StatusOK)
	}
	if g.refused {
		return len(b), nil
	}
	return g.ResponseWriter.Write(b)
}

// Flush sends what the pod wrote so far.
func (g *gateWriter) Flush() {
	if !g.refused {
		_ = http.NewResponseController(g.ResponseWriter).Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (g *gateWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// LocalFunc adapts a function to Local.
type LocalFunc func(ctx context.Context, namespace, pod string, w http.ResponseWriter, r *http.Request)

// Invoke calls f.
func (f LocalFunc) Invoke(ctx context.Context, namespace, pod string, w http.ResponseWriter, r *http.Request) {
	f(ctx, namespace, pod, w, r)
}

// remote sends a request to a pod on another node: the QUIC tunnel.
type remote interface {
	RoundTrip(ctx context.Context, e *Endpoint, r *http.Request) (*http.Response, error)
	// Down reports whether the node at a mesh address is marked down.
	Down(address string) bool
}

// errNotReached marks errors where the request certainly never reached a
// pod (no connection to its node, no stream): safe to retry elsewhere, and
// the request body has not been read.
var errNotReached = errors.New("request did not reach the pod")
