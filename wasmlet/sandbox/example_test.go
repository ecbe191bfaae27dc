package sandbox_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"

	"github.com/wask-dev/wask/wasmlet/sandbox"
)

// A node's runtime serves HTTP from a reactor module: here tiny, 196
// bytes of hand-written WebAssembly.
func Example() {
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		panic(err)
	}
	defer rt.Close(ctx)

	wasm, err := os.ReadFile("../../wasm-samples/tiny/tiny.wasm")
	if err != nil {
		panic(err)
	}
	m, err := rt.Compile(ctx, wasm) // once per node; shared by every pod running it
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Info().Modes)

	// The zero Spec grants nothing; a pod's spec would grant env, mounts...
	h, err := rt.NewHandler(m, sandbox.Spec{Name: "tiny-1"}, sandbox.ModeHTTPReactor, sandbox.PoolConfig{})
	if err != nil {
		panic(err)
	}
	defer h.Close(ctx)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	fmt.Print(w.Code, " ", w.Body.String())
	fmt.Println(h.Call(ctx, sandbox.HealthExport), h.Stats().Instances)
	// Output:
	// [http-reactor]
	// 200 hello from tiny
	// <nil> 1
}
