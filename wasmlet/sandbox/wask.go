package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// WaskModule is the name of wask's host module. Its functions
// (wasm-samples/ABI.md):
//
//	log(ptr, len i32)                                  a line to stderr
//	http_send(req_ptr, req_len, result_len_ptr i32) i32 0: response pending, 1: error pending
//	result_read(buf_ptr, buf_len i32) i32              copy the pending result; bytes copied
const WaskModule = "wask"

// hostState is an instance's side of the wask host module, reached through
// the context of every call into the instance.
type hostState struct {
	outbound func(ctx context.Context, req *http.Request) (*http.Response, error)
	stderr   io.Writer
	pending  []byte
}

type hostStateKey struct{}

func withHostState(ctx context.Context, st *hostState) context.Context {
	return context.WithValue(ctx, hostStateKey{}, st)
}

func stateOf(ctx context.Context) *hostState {
	if st, ok := ctx.Value(hostStateKey{}).(*hostState); ok {
		return st
	}
	return &hostState{}
}

func instantiateWask(ctx context.Context, rt wazero.Runtime) error {
	i32 := api.ValueTypeI32
	_, err := rt.NewHostModuleBuilder(WaskModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostLog), []api.ValueType{i32, i32}, nil).
		WithParameterNames("ptr", "len").Export("log").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostHTTPSend), []api.ValueType{i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("req_ptr", "req_len", "result_len_ptr").Export("http_send").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostResultRead), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("buf_ptr", "buf_len").Export("result_read").
		Instantiate(ctx)
	return err
}

// guestBytes reads [ptr, ptr+n) of the caller's memory or panics, which
// traps the guest (it passed a bad pointer).
func guestBytes(mod api.Module, ptr, n uint32) []byte {
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Sprintf("wask: [%d, %d) is outside the guest's memory", ptr, uint64(ptr)+uint64(n)))
	}
	return b
}

func hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	msg := guestBytes(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if w := stateOf(ctx).stderr; w != nil {
		line := make([]byte, 0, len(msg)+1)
		line = append(append(line, msg...), '\n')
		_, _ = w.Write(line)
	}
}

func hostHTTPSend(ctx context.Context, mod api.Module, stack []uint64) {
	req := guestBytes(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	lenPtr := api.DecodeU32(stack[2])
	guestBytes(mod, lenPtr, 4) // check before doing the call
	st := stateOf(ctx)
	result, failed := st.send(ctx, req), uint32(0)
	if result.err != nil {
		st.pending, failed = []byte(result.err.Error()), 1
	} else {
		st.pending = result.resp
	}
	mod.Memory().WriteUint32Le(lenPtr, uint32(len(st.pending)))
	stack[0] = api.EncodeU32(failed)
}

type sendResult struct {
	resp []byte
	err  error
}

// send decodes the guest's request, calls Outbound and encodes its
// response.
func (st *hostState) send(ctx context.Context, msg []byte) sendResult {
	if st.outbound == nil {
		return sendResult{err: ErrNoOutbound}
	}
	w, err := decodeRequest(msg)
	if err != nil {
		return sendResult{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, w.method, w.target, bytes.NewReader(w.body))
	if err != nil {
		return sendResult{err: fmt.Errorf("outbound request: %w", err)}
	}
	req.Header = w.header
	if h := w.header.Get("Host"); h != "" {
		req.Host = h
		req.Header.Del("Host")
	}
	resp, err := st.outbound(ctx, req)
	if err != nil {
		return sendResult{err: fmt.Errorf("outbound %s %s: %w", w.method, w.target, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMessage+1))
	if err != nil {
		return sendResult{err: fmt.Errorf("outbound %s %s: reading response: %w", w.method, w.target, err)}
	}
	if len(body) > maxMessage {
		return sendResult{err: fmt.Errorf("outbound %s %s: response body over %d bytes", w.method, w.target, maxMessage)}
	}
	return sendResult{resp: encodeResponse(resp.StatusCode, resp.Header, body)}
}

func hostResultRead(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	k := min(int(n), len(st.pending))
	copy(guestBytes(mod, ptr, uint32(k)), st.pending[:k])
	st.pending = nil
	stack[0] = api.EncodeU32(uint32(k))
}
