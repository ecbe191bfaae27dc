//go:build wasip1

package wask

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unsafe"
)

var (
	handler http.Handler
	reqBuf  []byte // the host writes each request here (wask_alloc)
	respBuf []byte // the last response, read by the host
)

// Handle makes h the module's HTTP handler. Call it from an init function
// of a program built with -buildmode=c-shared: in a reactor main never
// runs; the host calls wask_http_handle per request, one at a time.
func Handle(h http.Handler) { handler = h }

// HandleFunc is Handle for a function.
func HandleFunc(f func(http.ResponseWriter, *http.Request)) { Handle(http.HandlerFunc(f)) }

// alloc returns size bytes of guest memory for the host to write
// requests into: every request of at most size bytes, until the next
// alloc.
//
//go:wasmexport wask_alloc
func alloc(size uint32) uint32 {
	if int(size) > cap(reqBuf) {
		reqBuf = make([]byte, size)
	}
	reqBuf = reqBuf[:size]
	if size == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(reqBuf))))
}

// handle serves the request in the buffer alloc gave and returns the
// response as ptr<<32 | len.
//
//go:wasmexport wask_http_handle
func handle(ptr, n uint32) uint64 {
	respBuf = serve(respBuf[:0], ptr, n)
	if len(respBuf) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(respBuf))))<<32 | uint64(len(respBuf))
}

func serve(dst []byte, ptr, n uint32) []byte {
	if cap(reqBuf) == 0 || uint32(uintptr(unsafe.Pointer(unsafe.SliceData(reqBuf)))) != ptr || int(n) > cap(reqBuf) {
		return errorResponse(dst, http.StatusBadRequest, "wask: request not in the buffer wask_alloc returned")
	}
	reqBuf = reqBuf[:n]
	m, err := DecodeRequest(reqBuf)
	if err != nil {
		return errorResponse(dst, http.StatusBadRequest, err.Error())
	}
	if handler == nil {
		return errorResponse(dst, http.StatusNotImplemented, "wask: no handler (call wask.Handle in init)")
	}
	u, err := parseTarget(m.Target)
	if err != nil {
		return errorResponse(dst, http.StatusBadRequest, err.Error())
	}
	// A Request without a context has context.Background; building it as a
	// literal skips WithContext's copy.
	bodyReader.Reset(m.Body)
	req := &http.Request{
		Method:        m.Method,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        m.Header,
		Body:          reqBody,
		ContentLength: int64(len(m.Body)),
		Host:          m.Header.Get("Host"),
		RequestURI:    m.Target,
	}
	delete(req.Header, "Host")
	w := &rw
	clear(w.header)
	w.status, w.body = 0, w.body[:0]
	func() {
		defer func() {
			if p := recover(); p != nil {
				w.status, w.body = http.StatusInternalServerError, []byte(fmt.Sprintf("wask: handler panic: %v", p))
				w.header = http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
			}
		}()
		handler.ServeHTTP(w, req)
	}()
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return AppendResponse(dst, w.status, w.header, w.body)
}

// rw, bodyReader and reqBody are reused by every request: an instance
// serves one at a time.
var (
	rw         = responseWriter{header: http.Header{}}
	bodyReader bytes.Reader
	reqBody    = io.NopCloser(&bodyReader)
)

// parseTarget parses an origin-form request target. The common case (no
// escapes) is split by hand: url.ParseRequestURI's validation costs more
// than the rest of a small request in a guest, where every loop header
// also pays the host's preemption countdown.
func parseTarget(target string) (*url.URL, error) {
	if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, "%#") {
		return url.ParseRequestURI(target)
	}
	path, query, _ := strings.Cut(target, "?")
	return &url.URL{Path: path, RawQuery: query}, nil
}

func errorResponse(dst []byte, status int, msg string) []byte {
	return AppendResponse(dst, status, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, []byte(msg))
}

// responseWriter buffers a response: the ABI returns it whole.
type responseWriter struct {
	header http.Header
	status int
	body   []byte
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body = append(w.body, b...)
	return len(b), nil
}
