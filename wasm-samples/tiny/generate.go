// Package tiny holds tiny.wat, a hand-written http-reactor module, and
// tiny.wasm, built from it by Debian's wat2wasm (package wabt).
package tiny

//go:generate wat2wasm tiny.wat -o tiny.wasm
