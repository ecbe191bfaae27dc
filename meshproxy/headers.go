package meshproxy

import (
	"net"
	"net/http"
	"strings"
)

// Headers the proxy adds to the request the pod sees.
const (
	HeaderRequestID       = "X-Request-Id"
	HeaderForwardedFor    = "X-Forwarded-For"
	HeaderForwardedProto  = "X-Forwarded-Proto"
	HeaderForwardedHost   = "X-Forwarded-Host"
	HeaderForwardedPrefix = "X-Forwarded-Prefix"
)

// hopHeaders are meaningful only for one connection and are not forwarded.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopHeaders(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// clientIP returns the host part of a remote address.
func clientIP(remoteAddr string) string {
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return h
	}
	return remoteAddr
}

// forwardHeaders sets the headers the pod sees about the original request:
// the client address appended to X-Forwarded-For, the scheme and host,
// and the request id.
func forwardHeaders(out *http.Request, in *http.Request, id string) {
	removeHopHeaders(out.Header)
	ip := clientIP(in.RemoteAddr)
	if prior := out.Header.Values(HeaderForwardedFor); len(prior) > 0 {
		ip = strings.Join(prior, ", ") + ", " + ip
	}
	out.Header.Set(HeaderForwardedFor, ip)
	if out.Header.Get(HeaderForwardedProto) == "" {
		proto := "http"
		if in.TLS != nil {
			proto = "https"
		}
		out.Header.Set(HeaderForwardedProto, proto)
	}
	if out.Header.Get(HeaderForwardedHost) == "" {
		out.Header.Set(HeaderForwardedHost, in.Host)
	}
	out.Header.Set(HeaderRequestID, id)
}

// stripPath removes prefix from the request's path, recording it in
// X-Forwarded-Prefix.
func stripPath(r *http.Request, prefix string) {
	if prefix == "" {
		return
	}
	u := *r.URL
	u.Path = strings.TrimPrefix(u.Path, prefix)
	if u.Path == "" {
		u.Path = "/"
	}
	if u.RawPath != "" {
		u.RawPath = ""
	}
	r.URL = &u
	r.RequestURI = u.RequestURI()
	r.Header.Set(HeaderForwardedPrefix, prefix)
}
