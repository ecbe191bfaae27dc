package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// PoolConfig sizes a Handler.
type PoolConfig struct {
	// MaxInstances bounds the requests served at once: the reactor pool's
	// size, or the CGI instances alive at once. Default 8.
	MaxInstances int
	// IdleTimeout closes a reactor instance idle this long; an idle pod's
	// pool goes to zero instances. Default 30 s.
	IdleTimeout time.Duration
}

// Defaults of PoolConfig.
const (
	DefaultMaxInstances = 8
	DefaultIdleTimeout  = 30 * time.Second
)

// HandlerStats is a snapshot of a Handler.
type HandlerStats struct {
	Instances int    // live instances (idle and busy)
	Idle      int    // instances waiting for a request
	InFlight  int    // requests and probe calls being served
	Served    uint64 // requests answered (any status)
	Started   uint64 // instances started since the Handler was made
}

// Handler serves HTTP from a module: in "http-cgi" mode a fresh instance
// per request, in "http-reactor" mode a pool of warm instances, one
// request per instance at a time.
type Handler struct {
	r    *Runtime
	m    *Module
	p    *prepared
	mode string
	pc   PoolConfig

	slots chan struct{} // one token per request being served

	// kill is canceled when Close gives up waiting: it cancels the
	// requests still in flight (closing their instances).
	kill       context.Context
	killCancel context.CancelFunc
	stopped    chan struct{} // closed by Close: waiters give up

	mu       sync.Mutex
	closed   bool
	idle     []*pooled // LIFO: idle[0] is the longest idle
	live     int
	inflight int
	reaper   *time.Timer // pending idle sweep, or nil
	work     sync.WaitGroup
	bg       sync.WaitGroup // sweeps scheduled or running

	served, started atomic.Uint64
}

// pooled is an idle-able reactor instance.
type pooled struct {
	in       *instance
	lastUsed time.Time
}

// NewHandler prepares a Handler; it starts no instance until the first
// request.
func (r *Runtime) NewHandler(m *Module, s Spec, mode string, pc PoolConfig) (*Handler, error) {
	p, err := r.prepare(m, s)
	if err != nil {
		return nil, err
	}
	switch mode {
	case ModeHTTPCGI:
		if !m.hasExport(CommandExport) {
			return nil, fmt.Errorf("sandbox: %s: http-cgi needs a WASI command (%s export): %w", p.name, CommandExport, ErrNoExport)
		}
	case ModeHTTPReactor:
		if err := m.checkReactor(); err != nil {
			return nil, fmt.Errorf("sandbox: %s: %w", p.name, err)
		}
	default:
		return nil, fmt.Errorf("sandbox: %s: mode %q is not %q or %q", p.name, mode, ModeHTTPCGI, ModeHTTPReactor)
	}
	if pc.MaxInstances < 0 || pc.IdleTimeout < 0 {
		return nil, fmt.Errorf("sandbox: %s: PoolConfig %+v: negative values", p.name, pc)
	}
	if pc.MaxInstances == 0 {
		pc.MaxInstances = DefaultMaxInstances
	}
	if pc.IdleTimeout == 0 {
		pc.IdleTimeout = DefaultIdleTimeout
	}
	h := &Handler{r: r, m: m, p: p, mode: mode, pc: pc,
		slots: make(chan struct{}, pc.MaxInstances), stopped: make(chan struct{})}
	h.kill, h.killCancel = context.WithCancel(context.Background())
	return h, nil
}

// Stats reports the Handler's instances and requests.
func (h *Handler) Stats() HandlerStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return HandlerStats{Instances: h.live, Idle: len(h.idle), InFlight: h.inflight, Served: h.served.Load(), Started: h.started.Load()}
}

// begin admits one unit of work (a request or a probe call): it takes a
// slot, waiting while MaxInstances are busy, and returns the context the
// work runs under and the func that ends it.
func (h *Handler) begin(ctx context.Context) (context.Context, func(), error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, nil, ErrClosed
	}
	h.inflight++
	h.work.Add(1)
	h.mu.Unlock()
	end := func() {
		h.mu.Lock()
		h.inflight--
		h.mu.Unlock()
		h.work.Done()
	}
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		end()
		return nil, nil, ctx.Err()
	case <-h.stopped:
		end()
		return nil, nil, ErrClosed
	}
	cancel := func() {}
	if h.p.spec.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, h.p.spec.Timeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	stop := context.AfterFunc(h.kill, cancel)
	return ctx, func() {
		stop()
		cancel()
		<-h.slots
		end()
	}, nil
}

// ServeHTTP serves one request: 504 when it exceeds Spec.Timeout, 503
// when the Handler is closed, 500 when the guest fails.
func (h *Handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if err := h.Serve(w, req); err != nil {
		http.Error(w, "sandbox: "+h.p.name+": "+err.Error(), http.StatusServiceUnavailable)
	}
}

// Serve is ServeHTTP, except that a request the handler does not admit
// (it is closed, or req's context ended while it waited for an instance)
// is not answered: Serve returns ErrClosed or the context's error having
// neither read req.Body nor written to w, so the caller may send the
// request elsewhere.
func (h *Handler) Serve(w http.ResponseWriter, req *http.Request) error {
	defer h.served.Add(1)
	ctx, end, err := h.begin(req.Context())
	if err != nil {
		return err
	}
	defer end()
	body, err := readBody(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return nil
	}
	var resp wireResponse
	if h.mode == ModeHTTPReactor {
		resp, err = h.serveReactor(ctx, req, body)
	} else {
		resp, err = h.serveCGI(ctx, req, body)
	}
	if err != nil {
		http.Error(w, err.Error(), statusOf(err))
		return nil
	}
	hdr := w.Header()
	for k, vs := range resp.header {
		hdr[k] = vs
	}
	hdr.Del("Content-Length") // net/http counts what is written
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
	return nil
}

func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, maxMessage+1))
	if err != nil {
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	if len(b) > maxMessage {
		return nil, fmt.Errorf("request body over %d bytes", maxMessage)
	}
	return b, nil
}

// statusOf maps a failed request's error to its HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrDeadline):
		return http.StatusGatewayTimeout
	case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// exitErr turns how a guest call ended into the request's error, nil when
// it completed.
func (h *Handler) exitErr(what string, err error, in *instance, ctx context.Context) error {
	if err == nil {
		return nil
	}
	refused := in != nil && in.alloc.refused.Load()
	exit := classify(err, refused, ctx)
	if exit.Reason == ReasonCanceled && h.kill.Err() != nil {
		return fmt.Errorf("sandbox: %s: %s: %w", h.p.name, what, ErrClosed)
	}
	if exit.Reason == ReasonCompleted {
		return nil
	}
	return fmt.Errorf("sandbox: %s: %s: %w", h.p.name, what, exit.Err())
}

// Call calls an exported function with no parameters, for probes: it
// fails if the export is missing, traps, exceeds Spec.Timeout, or returns
// a non-zero i32. Reactors use a pooled instance; in http-cgi mode a fresh
// instance is made (without running _start).
func (h *Handler) Call(ctx context.Context, export string) error {
	if !h.m.hasExport(export) {
		return fmt.Errorf("sandbox: %s: %s: %w", h.p.name, export, ErrNoExport)
	}
	ctx, end, err := h.begin(ctx)
	if err != nil {
		return fmt.Errorf("sandbox: %s: %s: %w", h.p.name, export, err)
	}
	defer end()
	var in *instance
	if h.mode == ModeHTTPReactor {
		p, err := h.get(ctx)
		if err != nil {
			return err
		}
		keep := false
		defer func() { h.put(p, keep) }()
		in = p.in
		res, err := in.call(ctx, export)
		if err = h.exitErr(export, err, in, ctx); err != nil {
			return err
		}
		keep = true
		return probeResult(h.p.name, export, res)
	}
	in, err = h.r.instantiate(ctx, h.m, h.p, nil, nil)
	if err != nil {
		return err
	}
	defer in.close(context.WithoutCancel(ctx))
	res, err := in.call(ctx, export)
	if err = h.exitErr(export, err, in, ctx); err != nil {
		return err
	}
	return probeResult(h.p.name, export, res)
}

// probeResult fails a probe export that returned a non-zero i32.
func probeResult(name, export string, res []uint64) error {
	if len(res) == 1 && uint32(res[0]) != 0 {
		return fmt.Errorf("sandbox: %s: %s returned %d", name, export, int32(res[0]))
	}
	return nil
}

// Close stops accepting requests, waits for those in flight until ctx is
// done, then cancels the rest, and frees every instance. It returns an
// error naming ctx's if it had to cancel requests.
func (h *Handler) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	close(h.stopped)
	if h.reaper != nil && h.reaper.Stop() {
		h.bg.Done()
	}
	h.reaper = nil
	h.mu.Unlock()

	done := make(chan struct{})
	go func() { h.work.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("sandbox: %s: closing: canceled the requests in flight: %w", h.p.name, ctx.Err())
		h.r.log.Info("sandbox: closing a handler: canceling the requests in flight", "guest", h.p.name, "inFlight", h.Stats().InFlight)
		h.killCancel()
		<-done
	}
	h.killCancel()
	h.bg.Wait()
	h.mu.Lock()
	idle := h.idle
	h.idle = nil
	h.live -= len(idle)
	h.mu.Unlock()
	for _, p := range idle {
		p.in.close(context.Background())
	}
	return err
}
