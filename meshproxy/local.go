package meshproxy

import (
	"context"
	"errors"
	"net/http"
)

// Local calls a pod on this node in-process: the wasmlet, wired by
// cmd/wask. Invoke writes the pod's response to w and returns when the pod
// is done with the request or ctx ends (it must honour ctx: the proxy's
// request timeout is a context deadline). A pod it does not run gets a 404
// or 503 from it, written to w.
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
