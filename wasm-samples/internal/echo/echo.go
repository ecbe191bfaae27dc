// Package echo is the handler the echo and cgi-echo samples share: it
// answers with the request's method, path, query, host, headers and body,
// and the pod and node names from WASK_POD_NAME and WASK_NODE_NAME.
//
// It writes with strings.Builder rather than fmt: in a guest, fmt's
// reflection costs more than the rest of a request.
package echo

import (
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
)

var pod, node = os.Getenv("WASK_POD_NAME"), os.Getenv("WASK_NODE_NAME")

// Handler echoes the request.
func Handler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var b strings.Builder
	b.Grow(256 + len(body))
	line := func(k, v string) {
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteByte('\n')
	}
	line("method", r.Method)
	line("path", r.URL.Path)
	line("query", r.URL.RawQuery)
	line("host", r.Host)
	line("pod", pod)
	line("node", node)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		line("header", k+": "+strings.Join(r.Header[k], ", "))
	}
	line("body", string(body))
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["X-Echo-Pod"] = []string{pod}
	io.WriteString(w, b.String())
}
