package wask

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRequestRoundTrip(t *testing.T) {
	h := http.Header{"X-A": {"1", "2"}, "Host": {"svc"}}
	b := AppendRequest(nil, "POST", "/p?q=1", h, []byte("body"))
	got, err := DecodeRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Request{Method: "POST", Target: "/p?q=1", Header: h, Body: []byte("body")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	for i := range len(b) {
		if _, err := DecodeRequest(b[:i]); err == nil {
			t.Fatalf("truncated at %d decoded", i)
		}
	}
	if _, err := DecodeRequest(append(b, 0)); err == nil {
		t.Fatal("trailing byte decoded")
	}
}

func TestResponseRoundTrip(t *testing.T) {
	h := http.Header{"Content-Type": {"text/plain"}}
	got, err := DecodeResponse(AppendResponse(nil, 201, h, []byte("ok")))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Response{Status: 201, Header: h, Body: []byte("ok")}, got); diff != "" {
		t.Fatal(diff)
	}
}
