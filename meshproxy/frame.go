package meshproxy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// The tunnel's framing, one QUIC stream per request:
//
//	client → server: uvarint head length, request head, body bytes until FIN
//	server → client: uvarint head length, response head, body bytes until FIN
//
// A head is a version byte then fields; a string is a uvarint length and
// bytes; a header is a uvarint count of (name, value) string pairs.
//
//	request head:  version, namespace, pod, method, request URI, host,
//	               remote address, content length (zigzag varint, -1: unknown), header
//	response head: version, status (uvarint), content length, header
//
// QUIC's stream FIN ends a body, so bodies need no chunking; a stream
// reset is an abort.
const frameVersion = 1

// maxHeadBytes bounds a head (method, URI, headers) in either direction.
const maxHeadBytes = 1 << 20

type requestHead struct {
	Namespace, Pod, Method, RequestURI, Host, RemoteAddr string
	ContentLength                                        int64
	Header                                               http.Header
}

type responseHead struct {
	Status        int
	ContentLength int64
	Header        http.Header
}

type headEncoder struct{ b []byte }

func (e *headEncoder) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *headEncoder) header(h http.Header) {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	e.b = binary.AppendUvarint(e.b, uint64(n))
	for k, vs := range h {
		for _, v := range vs {
			e.str(k)
			e.str(v)
		}
	}
}

// frame prefixes the head with its length.
func frame(head []byte) []byte {
	out := binary.AppendUvarint(make([]byte, 0, len(head)+4), uint64(len(head)))
	return append(out, head...)
}

func (h *requestHead) appendTo(b []byte) []byte {
	e := headEncoder{b: append(b, frameVersion)}
	for _, s := range []string{h.Namespace, h.Pod, h.Method, h.RequestURI, h.Host, h.RemoteAddr} {
		e.str(s)
	}
	e.b = binary.AppendVarint(e.b, h.ContentLength)
	e.header(h.Header)
	return e.b
}

func (h *responseHead) appendTo(b []byte) []byte {
	e := headEncoder{b: append(b, frameVersion)}
	e.b = binary.AppendUvarint(e.b, uint64(h.Status))
	e.b = binary.AppendVarint(e.b, h.ContentLength)
	e.header(h.Header)
	return e.b
}

var errBadHead = errors.New("malformed tunnel head")

type headDecoder struct {
	b   []byte
	err error
}

func (d *headDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errBadHead
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *headDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errBadHead
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *headDecoder) str() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errBadHead
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *headDecoder) header() http.Header {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b))/2 { // each pair takes at least two bytes
		d.err = errBadHead
		return nil
	}
	h := make(http.Header, n)
	for range n {
		k, v := d.str(), d.str()
		if d.err != nil {
			return nil
		}
		h[k] = append(h[k], v)
	}
	return h
}

func (d *headDecoder) version() {
	if len(d.b) == 0 || d.b[0] != frameVersion {
		d.err = fmt.Errorf("%w: unknown version", errBadHead)
		return
	}
	d.b = d.b[1:]
}

func (d *headDecoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errBadHead, len(d.b))
	}
	return d.err
}

func decodeRequestHead(b []byte) (*requestHead, error) {
	d := headDecoder{b: b}
	d.version()
	h := &requestHead{Namespace: d.str(), Pod: d.str(), Method: d.str(), RequestURI: d.str(), Host: d.str(), RemoteAddr: d.str()}
	h.ContentLength = d.varint()
	h.Header = d.header()
	if err := d.done(); err != nil {
		return nil, err
	}
	if h.ContentLength < -1 {
		return nil, fmt.Errorf("%w: content length %d", errBadHead, h.ContentLength)
	}
	return h, nil
}

func decodeResponseHead(b []byte) (*responseHead, error) {
	d := headDecoder{b: b}
	d.version()
	h := &responseHead{Status: int(d.uvarint()), ContentLength: d.varint(), Header: d.header()}
	if err := d.done(); err != nil {
		return nil, err
	}
	if h.Status < 100 || h.Status > 999 || h.ContentLength < -1 {
		return nil, fmt.Errorf("%w: status %d, content length %d", errBadHead, h.Status, h.ContentLength)
	}
	return h, nil
}

// readHead reads one length-prefixed head.
func readHead(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxHeadBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", errBadHead, n, maxHeadBytes)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// readers pools the buffered readers of streams.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

func getReader(r io.Reader) *bufio.Reader {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readers.Put(br)
}
