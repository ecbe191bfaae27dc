package meshproxy

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFrameRoundTrip(t *testing.T) {
	req := &requestHead{Namespace: "ns", Pod: "p", Method: "POST", RequestURI: "/a?b=c", Host: "svc.ns", RemoteAddr: "192.0.2.1:9",
		ContentLength: -1, Header: http.Header{"X-A": {"1", "2"}, "Content-Type": {"text/plain"}}}
	got, err := decodeRequestHead(req.appendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(req, got); diff != "" {
		t.Errorf("request head (-want +got):\n%s", diff)
	}
	resp := &responseHead{Status: 503, ContentLength: 12, Header: http.Header{"Retry-After": {"1"}}}
	gotResp, err := decodeResponseHead(resp.appendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(resp, gotResp); diff != "" {
		t.Errorf("response head (-want +got):\n%s", diff)
	}
	b, err := readHead(bufio.NewReader(bytes.NewReader(append(frame(resp.appendTo(nil)), "body"...))))
	if err != nil || !bytes.Equal(b, resp.appendTo(nil)) {
		t.Errorf("readHead = %v", err)
	}
}

func TestFrameErrors(t *testing.T) {
	good := (&requestHead{Namespace: "ns", Pod: "p", Method: "GET", RequestURI: "/", Header: http.Header{}}).appendTo(nil)
	for name, b := range map[string][]byte{
		"empty":           {},
		"version":         append([]byte{9}, good[1:]...),
		"truncated":       good[:len(good)-1],
		"trailing":        append(append([]byte{}, good...), 0),
		"huge string":     {frameVersion, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"negative length": (&requestHead{ContentLength: -2}).appendTo(nil),
	} {
		if _, err := decodeRequestHead(b); !errors.Is(err, errBadHead) {
			t.Errorf("%s: err = %v; want errBadHead", name, err)
		}
	}
	if _, err := decodeResponseHead((&responseHead{Status: 42}).appendTo(nil)); !errors.Is(err, errBadHead) {
		t.Errorf("status 42: err = %v", err)
	}
	big := append(frame(nil)[:0], 0xff, 0xff, 0xff, 0x7f) // 256 MiB head
	if _, err := readHead(bufio.NewReader(bytes.NewReader(big))); !errors.Is(err, errBadHead) {
		t.Errorf("oversized head: err = %v", err)
	}
}

func FuzzDecodeHeads(f *testing.F) {
	f.Add((&requestHead{Namespace: "ns", Pod: "p", Method: "GET", RequestURI: "/", Header: http.Header{"A": {"b"}}}).appendTo(nil))
	f.Add((&responseHead{Status: 200, ContentLength: 3, Header: http.Header{"A": {"b"}}}).appendTo(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := decodeRequestHead(b); err == nil {
			again, err := decodeRequestHead(h.appendTo(nil))
			if err != nil || again.Method != h.Method || again.RequestURI != h.RequestURI || len(again.Header) != len(h.Header) {
				t.Fatalf("request head does not round-trip: %v", err)
			}
		}
		if h, err := decodeResponseHead(b); err == nil {
			if _, err := decodeResponseHead(h.appendTo(nil)); err != nil {
				t.Fatalf("response head does not round-trip: %v", err)
			}
		}
	})
}
