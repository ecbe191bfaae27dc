//go:build wasip1

//wask:reactor

// Command chain is an http-reactor module that calls another Service for
// every request (a service chain): it forwards the request's method, path
// and body to $UPSTREAM (default http://echo.default) through the wask
// host module's outbound call, and answers with the upstream's status and
// body after a line naming itself ("chain: <pod> on <node>").
package main

import (
	"io"
	"net/http"
	"os"

	wask "github.com/wask-dev/wask/wasm-samples/sdk"
)

var pod, node = os.Getenv("WASK_POD_NAME"), os.Getenv("WASK_NODE_NAME")

func upstream() string {
	if u := os.Getenv("UPSTREAM"); u != "" {
		return u
	}
	return "http://echo.default"
}

func init() {
	wask.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := http.NewRequest(r.Method, upstream()+r.URL.RequestURI(), r.Body)
		if err != nil {
			http.Error(w, "chain: "+err.Error(), http.StatusInternalServerError)
			return
		}
		resp, err := wask.Client.Do(out)
		if err != nil {
			http.Error(w, "chain: calling "+upstream()+": "+err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(resp.StatusCode)
		io.WriteString(w, "chain: "+pod+" on "+node+"\n")
		io.Copy(w, resp.Body)
	})
}

func main() {}
