// Package echo is the handler the echo and cgi-echo samples share: it
// answers with the request's method, path, query, host, headers and body,
// and the pod and node names from WASK_POD_NAME and WASK_NODE_NAME.
package echo

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
)

// Handler echoes the request.
func Handler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var b strings.Builder
	fmt.Fprintf(&b, "method: %s\npath: %s\nquery: %s\nhost: %s\n", r.Method, r.URL.Path, r.URL.RawQuery, r.Host)
	fmt.Fprintf(&b, "pod: %s\nnode: %s\n", os.Getenv("WASK_POD_NAME"), os.Getenv("WASK_NODE_NAME"))
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "header: %s: %s\n", k, strings.Join(r.Header[k], ", "))
	}
	fmt.Fprintf(&b, "body: %s\n", body)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Echo-Pod", os.Getenv("WASK_POD_NAME"))
	io.WriteString(w, b.String())
}
