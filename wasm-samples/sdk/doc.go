// Package wask is the guest side of wask's ABI (../ABI.md) for Go programs
// built with GOOS=wasip1 GOARCH=wasm: Handle turns an http.Handler into an
// http-reactor module (build with -buildmode=c-shared), and Transport is an
// http.RoundTripper over the wask host module's outbound call.
//
// It imports only the standard library. The message encoding (wire.go)
// builds everywhere so it is tested on the host; the rest only for wasip1.
package wask
