//go:build wasip1

// Command cgi-echo is echo in CGI style (http-cgi mode): a fresh instance
// per request reads it from CGI/1.1 environment variables and stdin
// through net/http/cgi and writes a CGI response on stdout.
package main

import (
	"fmt"
	"net/http"
	"net/http/cgi"
	"os"

	"github.com/wask-dev/wask/wasm-samples/internal/echo"
)

func main() {
	if err := cgi.Serve(http.HandlerFunc(echo.Handler)); err != nil {
		fmt.Fprintln(os.Stderr, "cgi-echo:", err)
		os.Exit(1)
	}
}
