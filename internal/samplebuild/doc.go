// Package samplebuild builds Go guest programs (GOOS=wasip1 GOARCH=wasm)
// for tests, caching the result by a hash of the sources and the Go
// version so repeated test runs do not build again.
//
// It imports nothing of wask; tests of any part may use it.
package samplebuild
