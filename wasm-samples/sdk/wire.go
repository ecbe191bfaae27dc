package wask

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
)

// Messages of the ABI: each string is a little-endian u32 length and its
// bytes.
//
//	request:  method, target, header count (u32), (name, value)*, body
//	response: status (u32), header count (u32), (name, value)*, body

var errTruncated = errors.New("wask: truncated message")

func putString[S ~string | ~[]byte](b []byte, s S) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func putHeader(b []byte, h http.Header) []byte {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	for k, vs := range h {
		for _, v := range vs {
			b = putString(putString(b, k), v)
		}
	}
	return b
}

// AppendRequest appends the encoding of a request to b.
func AppendRequest(b []byte, method, target string, h http.Header, body []byte) []byte {
	b = putString(putString(b, method), target)
	return putString(putHeader(b, h), body)
}

// AppendResponse appends the encoding of a response to b.
func AppendResponse(b []byte, status int, h http.Header, body []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(status))
	return putString(putHeader(b, h), body)
}

// Request is a decoded request message.
type Request struct {
	Method, Target string
	Header         http.Header
	Body           []byte
}

// Response is a decoded response message.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) u32() uint32 {
	if d.err != nil || len(d.b) < 4 {
		d.err = errTruncated
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) str() []byte {
	n := d.u32()
	if d.err != nil || uint64(n) > uint64(len(d.b)) {
		d.err = errTruncated
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) header() http.Header {
	n := d.u32()
	if d.err != nil || uint64(n)*8 > uint64(len(d.b)) {
		d.err = errTruncated
		return nil
	}
	h := make(http.Header, n)
	for range n {
		k, v := d.str(), d.str()
		if d.err != nil {
			return nil
		}
		// Names are kept as sent: the host sends Go's canonical forms.
		h[string(k)] = append(h[string(k)], string(v))
	}
	return h
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("wask: %d bytes after the message", len(d.b))
	}
	return d.err
}

// DecodeRequest decodes a request message. The body aliases b; the
// strings share one copy of the message, and the header values one
// backing array: in a guest every allocation is dear.
func DecodeRequest(b []byte) (Request, error) {
	all := string(b)
	d := decoder{b: b}
	sub := func() string {
		v := d.str()
		if d.err != nil || len(v) == 0 {
			return ""
		}
		off := len(b) - len(d.b) - len(v)
		return all[off : off+len(v)]
	}
	r := Request{Method: method(d.str())}
	r.Target = sub()
	n := d.u32()
	if d.err != nil || uint64(n)*8 > uint64(len(d.b)) {
		return r, errTruncated
	}
	r.Header = make(map[string][]string, n)
	vals := make([]string, n)
	for i := range n {
		k, v := sub(), sub()
		if d.err != nil {
			return r, d.err
		}
		vals[i] = v
		if old, ok := r.Header[k]; ok {
			r.Header[k] = append(old, v)
		} else {
			r.Header[k] = vals[i : i+1 : i+1]
		}
	}
	r.Body = d.str()
	return r, d.done()
}

// method returns the common methods without allocating.
func method(b []byte) string {
	switch string(b) {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPut:
		return http.MethodPut
	}
	return string(b)
}

// DecodeResponse decodes a response message. The body aliases b.
func DecodeResponse(b []byte) (Response, error) {
	d := decoder{b: b}
	r := Response{Status: int(d.u32()), Header: d.header(), Body: d.str()}
	return r, d.done()
}
