package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// The reactor ABI's exports (wasm-samples/ABI.md).
const (
	// AllocExport: wask_alloc(size i32) -> ptr i32, size bytes of guest
	// memory for the next request (0 = refused).
	AllocExport = "wask_alloc"
	// HealthExport is the conventional probe export: () -> i32, 0 healthy.
	HealthExport = "wask_health"
)

// checkReactor checks the module exports the reactor ABI with the right
// signatures.
func (m *Module) checkReactor() error {
	fns := m.fns
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	for name, want := range map[string][2][]api.ValueType{
		HTTPHandlerExport: {{i32, i32}, {i64}},
		AllocExport:       {{i32}, {i32}},
	} {
		f, ok := fns[name]
		if !ok {
			return fmt.Errorf("http-reactor needs the %s export: %w", name, ErrNoExport)
		}
		if !equalTypes(f.ParamTypes(), want[0]) || !equalTypes(f.ResultTypes(), want[1]) {
			return fmt.Errorf("export %s has type %v -> %v, the reactor ABI wants %v -> %v", name, f.ParamTypes(), f.ResultTypes(), want[0], want[1])
		}
	}
	if len(m.cm.ExportedMemories()) == 0 {
		return errors.New("http-reactor needs an exported memory")
	}
	return nil
}

func equalTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// get takes an idle instance, or starts one (running _initialize).
func (h *Handler) get(ctx context.Context) (*pooled, error) {
	h.mu.Lock()
	if n := len(h.idle); n > 0 {
		p := h.idle[n-1]
		h.idle[n-1] = nil
		h.idle = h.idle[:n-1]
		h.mu.Unlock()
		return p, nil
	}
	h.live++
	h.mu.Unlock()
	in, err := h.r.instantiate(ctx, h.m, h.p, nil, nil)
	if err == nil && h.m.hasExport(ReactorInitExport) {
		_, err = in.call(ctx, ReactorInitExport)
		if err = h.exitErr("starting an instance", err, in, ctx); err != nil {
			in.close(context.WithoutCancel(ctx))
		}
	}
	if err != nil {
		h.mu.Lock()
		h.live--
		h.mu.Unlock()
		return nil, err
	}
	h.started.Add(1)
	return &pooled{in: in}, nil
}

// put returns an instance to the pool, or closes it when it is not to be
// kept (it failed) or the Handler is closed.
func (h *Handler) put(p *pooled, keep bool) {
	h.mu.Lock()
	if !keep || h.closed {
		h.live--
		h.mu.Unlock()
		if !keep {
			h.r.log.Debug("sandbox: discarding a failed reactor instance", "guest", h.p.name)
		}
		p.in.close(context.Background())
		return
	}
	p.lastUsed = time.Now()
	h.idle = append(h.idle, p)
	if h.reaper == nil {
		h.bg.Add(1)
		h.reaper = time.AfterFunc(h.pc.IdleTimeout, h.sweep)
	}
	h.mu.Unlock()
}

// sweep closes the instances idle longer than IdleTimeout and schedules
// the next sweep while any remain.
func (h *Handler) sweep() {
	defer h.bg.Done()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	cutoff := time.Now().Add(-h.pc.IdleTimeout)
	n := 0
	for n < len(h.idle) && !h.idle[n].lastUsed.After(cutoff) {
		n++
	}
	old := make([]*pooled, n)
	copy(old, h.idle[:n])
	rest := copy(h.idle, h.idle[n:])
	clear(h.idle[rest:])
	h.idle = h.idle[:rest]
	h.live -= n
	h.reaper = nil
	if len(h.idle) > 0 {
		h.bg.Add(1)
		h.reaper = time.AfterFunc(h.idle[0].lastUsed.Add(h.pc.IdleTimeout).Sub(time.Now()), h.sweep)
	} else {
		h.idle = nil // scale to zero: free the slice too
	}
	h.mu.Unlock()
	for _, p := range old {
		p.in.close(context.Background())
	}
}

// reqBufs recycles request encodings.
var reqBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// serveReactor calls the guest's handler with the request.
func (h *Handler) serveReactor(ctx context.Context, req *http.Request, body []byte) (wireResponse, error) {
	p, err := h.get(ctx)
	if err != nil {
		return wireResponse{}, err
	}
	resp, keep, err := h.callHandler(ctx, p.in, req, body)
	h.put(p, keep)
	return resp, err
}

// callHandler runs one request in an instance. keep reports whether the
// instance is fit for another.
func (h *Handler) callHandler(ctx context.Context, in *instance, req *http.Request, body []byte) (wireResponse, bool, error) {
	bp := reqBufs.Get().(*[]byte)
	msg := encodeRequest((*bp)[:0], req, body)
	defer func() {
		if cap(msg) <= 1<<20 {
			*bp = msg[:0]
			reqBufs.Put(bp)
		}
	}()
	// The buffer wask_alloc gave serves every request that fits in it.
	if in.reqCap < uint32(len(msg)) || in.reqPtr == 0 {
		res, err := in.call(ctx, AllocExport, uint64(len(msg)))
		if err = h.exitErr(AllocExport, err, in, ctx); err != nil {
			return wireResponse{}, false, err
		}
		if uint32(res[0]) == 0 {
			return wireResponse{}, true, fmt.Errorf("sandbox: %s: the guest refused %d bytes for the request", h.p.name, len(msg))
		}
		in.reqPtr, in.reqCap = uint32(res[0]), uint32(len(msg))
	}
	ptr := in.reqPtr
	mem := in.mod.Memory()
	if !mem.Write(ptr, msg) {
		return wireResponse{}, false, fmt.Errorf("sandbox: %s: %s returned %d, outside memory for %d bytes", h.p.name, AllocExport, ptr, len(msg))
	}
	res, err := in.call(ctx, HTTPHandlerExport, uint64(ptr), uint64(len(msg)))
	if err = h.exitErr(HTTPHandlerExport, err, in, ctx); err != nil {
		return wireResponse{}, false, err
	}
	if in.mod.IsClosed() { // proc_exit(0) inside the handler
		return wireResponse{}, false, fmt.Errorf("sandbox: %s: the guest exited while handling the request", h.p.name)
	}
	rptr, rlen := uint32(res[0]>>32), uint32(res[0])
	out, ok := mem.Read(rptr, rlen)
	if !ok || rlen > maxMessage {
		return wireResponse{}, false, fmt.Errorf("sandbox: %s: response [%d, +%d) is outside the guest's memory", h.p.name, rptr, rlen)
	}
	// Copy out: the guest reuses its memory for the next request.
	resp, err := decodeResponse(append([]byte(nil), out...))
	if err != nil {
		return wireResponse{}, false, fmt.Errorf("sandbox: %s: %w", h.p.name, err)
	}
	return resp, true, nil
}
