package meshproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// statusClientClosed is recorded when the client gave up before the
// response (nginx's 499).
const statusClientClosed = 499

// forwarder sends a request to one endpoint of a route: in-process to a
// local pod, through the tunnel to a remote one, to another endpoint when
// the first never reached its pod.
type forwarder struct {
	local      Local
	remote     remote // nil: remote endpoints are unreachable
	intn       func(int) int
	maxRetries int
	metrics    *metrics
}

// forward writes the response of an endpoint of r to w. It returns the
// endpoint that answered (nil if none did) and, when no endpoint could be
// asked, an error that has already been written to w as 503 or 502.
func (f *forwarder) forward(ctx context.Context, r *Route, client string, out *http.Request, w *statusWriter) (*Endpoint, error) {
	if err := bufferBody(out); err != nil {
		w.writeError(http.StatusBadRequest, fmt.Sprintf("service %s/%s: reading the request body: %v", r.Namespace, r.Name, err))
		return nil, err
	}
	var tried []*Endpoint
	var lastErr error
	for attempt := 0; attempt <= f.maxRetries; attempt++ {
		e := r.Pick(client, tried, f.down, f.intn)
		if e == nil {
			break
		}
		if attempt > 0 {
			f.metrics.retries.WithLabelValues(r.Namespace, r.Name).Inc()
			if out.GetBody != nil {
				body, err := out.GetBody()
				if err != nil {
					break // lastErr stands: the body cannot be sent again
				}
				out.Body = body
			}
		}
		err := f.call(ctx, e, out, w)
		if err == nil {
			return e, nil
		}
		if !errors.Is(err, errNotReached) {
			code := http.StatusBadGateway
			switch {
			case errors.Is(ctx.Err(), context.DeadlineExceeded):
				code = http.StatusGatewayTimeout
			case ctx.Err() != nil:
				code = statusClientClosed // for the logs and metrics: no one reads it
			}
			if !w.wrote {
				w.writeError(code, fmt.Sprintf("service %s/%s: pod %s on node %s: %v", r.Namespace, r.Name, e.Pod, e.Node, err))
			}
			return e, err
		}
		tried, lastErr = append(tried, e), err
	}
	switch {
	case lastErr != nil:
	case len(r.Endpoints) == 0:
		w.writeError(http.StatusServiceUnavailable, fmt.Sprintf("service %s/%s has no ready endpoint (%d not ready)", r.Namespace, r.Name, r.NotReady))
		return nil, fmt.Errorf("service %s/%s: no ready endpoint", r.Namespace, r.Name)
	default:
		w.writeError(http.StatusServiceUnavailable, fmt.Sprintf("service %s/%s: its %d ready endpoints are all on nodes marked down (unreachable)", r.Namespace, r.Name, len(r.Endpoints)))
		return nil, fmt.Errorf("service %s/%s: every ready endpoint is on a node marked down", r.Namespace, r.Name)
	}
	w.writeError(http.StatusServiceUnavailable, fmt.Sprintf("service %s/%s: no endpoint reachable: %v", r.Namespace, r.Name, lastErr))
	return nil, lastErr
}

func (f *forwarder) down(address string) bool { return f.remote != nil && f.remote.Down(address) }

// retryBodyLimit is the largest request body (of known length) read
// before the first attempt, so that a request refused by a node or pod
// that never handed it on can go to another endpoint with its body, as
// Envoy's retry buffer does. Larger bodies stream, and are retried only if
// nothing of them was sent.
const retryBodyLimit = 64 << 10

// bufferBody reads a small body of known length into memory and sets
// out.GetBody, so every attempt can send it. Requests that have GetBody
// already (outbound calls made with a bytes body) keep theirs.
func bufferBody(out *http.Request) error {
	if out.Body == nil || out.Body == http.NoBody || out.GetBody != nil || out.ContentLength <= 0 || out.ContentLength > retryBodyLimit {
		return nil
	}
	b := make([]byte, out.ContentLength)
	if _, err := io.ReadFull(out.Body, b); err != nil {
		return err
	}
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	out.Body, _ = out.GetBody()
	return nil
}

// call sends out to e and writes the response to w. An error wrapping
// errNotReached means nothing was written to w, and out.Body was not read
// or can be had again from out.GetBody.
func (f *forwarder) call(ctx context.Context, e *Endpoint, out *http.Request, w *statusWriter) error {
	e.begin()
	defer e.end()
	if e.Local {
		if !serves(f.local, e.Namespace, e.Pod) {
			return fmt.Errorf("pod %s/%s: %w: not running on this node", e.Namespace, e.Pod, errNotReached)
		}
		if !invokeLocal(ctx, f.local, e.Namespace, e.Pod, w, out) {
			return fmt.Errorf("pod %s/%s: %w: it did not take the request", e.Namespace, e.Pod, errNotReached)
		}
		if !w.wrote && ctx.Err() != nil {
			return ctx.Err()
		}
		return nil
	}
	if f.remote == nil {
		return fmt.Errorf("pod on node %s: %w: no tunnel to other nodes", e.Node, errNotReached)
	}
	resp, err := f.remote.RoundTrip(ctx, e, out)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return copyResponse(w, resp)
}

// copyResponse writes resp to w, flushing as it goes when the length is
// unknown (a streamed response).
func copyResponse(w http.ResponseWriter, resp *http.Response) error {
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	removeHopHeaders(h)
	w.WriteHeader(resp.StatusCode)
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	if resp.ContentLength >= 0 {
		_, err := io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{resp.Body}, buf)
		return err
	}
	rc := http.NewResponseController(w)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			_ = rc.Flush()
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// copyBuffers pools the buffers responses are copied through.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// writeError answers with a plain-text error naming what failed.
func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintf(w, "meshproxy: %s\n", msg)
}

// statusWriter records what a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
	bytes int64
	// proxyError: the response is the proxy's own error response, complete.
	proxyError bool
}

func (w *statusWriter) writeError(code int, msg string) {
	writeError(w, code, msg)
	w.proxyError = true
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
			w.ResponseWriter.WriteHeader(code)
			return
		}
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.code, w.wrote = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends buffered data (a pod that streams).
func (w *statusWriter) Flush() {
	if !w.wrote {
		w.code, w.wrote = http.StatusOK, true
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}
