//go:build wasip1

//wask:reactor

// Command echo is an http-reactor module (built with -buildmode=c-shared):
// it answers every request with its method, path, headers and body, and
// the pod and node it runs on.
package main

import (
	"github.com/wask-dev/wask/wasm-samples/internal/echo"
	wask "github.com/wask-dev/wask/wasm-samples/sdk"
)

func init() { wask.HandleFunc(echo.Handler) }

func main() {}
