//go:build wasip1

package wask

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"unsafe"
)

//go:wasmimport wask http_send
func httpSend(reqPtr unsafe.Pointer, reqLen uint32, resultLen unsafe.Pointer) uint32

//go:wasmimport wask result_read
func resultRead(buf unsafe.Pointer, bufLen uint32) uint32

//go:wasmimport wask log
func hostLog(ptr unsafe.Pointer, n uint32)

// Log writes a line to the pod's log through the host.
func Log(msg string) {
	b := []byte(msg)
	hostLog(unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)))
}

// Transport sends requests through the wask host module: the node routes
// them to a Service by the URL's host (http://name.namespace/path). It
// fails when the pod is granted no outbound calls.
type Transport struct{}

// Client is an http.Client over Transport.
var Client = &http.Client{Transport: Transport{}}

// RoundTrip implements http.RoundTripper.
func (Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	h := req.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if req.Host != "" {
		h.Set("Host", req.Host)
	}
	msg := AppendRequest(nil, req.Method, req.URL.String(), h, body)
	var n uint32
	failed := httpSend(unsafe.Pointer(unsafe.SliceData(msg)), uint32(len(msg)), unsafe.Pointer(&n))
	result := make([]byte, n)
	if n > 0 {
		result = result[:resultRead(unsafe.Pointer(unsafe.SliceData(result)), n)]
	}
	if failed != 0 {
		return nil, errors.New("wask outbound: " + string(result))
	}
	m, err := DecodeResponse(result)
	if err != nil {
		return nil, err
	}
	return &http.Response{
		Status:        http.StatusText(m.Status),
		StatusCode:    m.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        m.Header,
		Body:          io.NopCloser(bytes.NewReader(m.Body)),
		ContentLength: int64(len(m.Body)),
		Request:       req,
	}, nil
}
