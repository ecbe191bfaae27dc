package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
)

// The reactor ABI's messages (wasm-samples/ABI.md): every string is a
// little-endian u32 length then its bytes.
//
//	request:  method, target, header count (u32), (name, value)*, body
//	response: status (u32), header count (u32), (name, value)*, body

// maxMessage bounds one encoded message in either direction.
const maxMessage = 64 << 20

var errShort = errors.New("truncated message")

// appendString appends a length-prefixed string.
func appendString[S ~string | ~[]byte](b []byte, s S) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendHeader(b []byte, h http.Header) []byte {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	for k, vs := range h {
		for _, v := range vs {
			b = appendString(appendString(b, k), v)
		}
	}
	return b
}

// wireReader reads a message, remembering the first error.
type wireReader struct {
	b   []byte
	err error
}

func (r *wireReader) u32() uint32 {
	if r.err != nil || len(r.b) < 4 {
		r.err = errShort
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *wireReader) bytes() []byte {
	n := r.u32()
	if r.err != nil || uint64(len(r.b)) < uint64(n) {
		r.err = errShort
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *wireReader) header() http.Header {
	n := r.u32()
	if r.err != nil || uint64(n)*8 > uint64(len(r.b)) {
		r.err = errShort
		return nil
	}
	h := make(http.Header, n)
	for range n {
		k, v := r.bytes(), r.bytes()
		if r.err != nil {
			return nil
		}
		h.Add(string(k), string(v))
	}
	return h
}

func (r *wireReader) end(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the end", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("decoding %s: %w", what, r.err)
	}
	return nil
}

// encodeRequest encodes req (its body already read) for the guest.
func encodeRequest(dst []byte, req *http.Request, body []byte) []byte {
	dst = appendString(dst, req.Method)
	dst = appendString(dst, req.URL.RequestURI())
	h := req.Header
	if req.Host != "" && h.Get("Host") == "" {
		h = h.Clone()
		if h == nil {
			h = http.Header{}
		}
		h.Set("Host", req.Host)
	}
	dst = appendHeader(dst, h)
	return appendString(dst, body)
}

// wireRequest is a decoded request message.
type wireRequest struct {
	method, target string
	header         http.Header
	body           []byte
}

func decodeRequest(b []byte) (wireRequest, error) {
	r := wireReader{b: b}
	w := wireRequest{method: string(r.bytes()), target: string(r.bytes()), header: r.header(), body: r.bytes()}
	return w, r.end("request")
}

// wireResponse is a decoded response message.
type wireResponse struct {
	status int
	header http.Header
	body   []byte
}

func decodeResponse(b []byte) (wireResponse, error) {
	r := wireReader{b: b}
	w := wireResponse{status: int(r.u32()), header: r.header(), body: r.bytes()}
	if err := r.end("response"); err != nil {
		return w, err
	}
	if w.status < 100 || w.status > 999 {
		return w, fmt.Errorf("decoding response: status %d out of range", w.status)
	}
	return w, nil
}

func encodeResponse(status int, h http.Header, body []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(status))
	b = appendHeader(b, h)
	return appendString(b, body)
}
