// Package conformance runs WASI test programs through a wask cluster as
// command pods and judges them, the way the WebAssembly/wasi-testsuite
// runner does: each NAME.wasm is one test, and NAME.json (if present) gives
// its args, env, a directory to mount as the guest's "/", and the expected
// exit code, stdout and stderr.
//
// Discover finds the tests under a folder; ParseExpectations reads an
// expectations file (for example expectations-wazero-linux.toml) listing
// the tests known to differ; a Runner pushes each module, applies a pod
// for it, waits for it to finish and compares. `wask conformance DIR`
// is the command-line face of it.
package conformance
