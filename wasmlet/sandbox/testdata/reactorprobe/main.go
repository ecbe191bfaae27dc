//go:build wasip1

//wask:reactor

// Command reactorprobe is an http-reactor for the Handler's tests: /spin
// never returns, /hog grows memory until refused, /panic panics, /trap
// traps, /sick makes wask_health fail, /get?url= calls out through the
// host, /count counts requests in this instance; anything else echoes.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"

	wask "github.com/wask-dev/wask/wasm-samples/sdk"
)

var (
	sick  bool
	count int
	keep  [][]byte
	sink  uint64
)

func init() { wask.HandleFunc(serve) }

func main() {}

//go:wasmexport wask_health
func health() int32 {
	if sick {
		return 1
	}
	return 0
}

//go:wasmexport trap_now
func trapNow() {
	var m map[string]int
	m["x"] = 1 // nil map write: a Go panic, which aborts the instance
}

func serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/spin":
		x := uint64(1)
		for {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			sink = x
		}
	case "/hog":
		for {
			keep = append(keep, make([]byte, 1<<20))
		}
	case "/panic":
		panic("asked to")
	case "/exit":
		os.Exit(4)
	case "/exit0":
		os.Exit(0)
	case "/sick":
		sick = true
	case "/count":
		count++
		fmt.Fprint(w, count)
	case "/get":
		resp, err := wask.Client.Get(r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	default:
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Pod", os.Getenv("WASK_POD_NAME"))
		fmt.Fprintf(w, "%s %s %s %s", r.Method, r.URL.RequestURI(), r.Header.Get("X-In"), body)
	}
}
