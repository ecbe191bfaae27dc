// Package sandbox runs WebAssembly modules with wazero. It is the only
// package of wask that imports wazero, and it knows nothing of pods: it
// deals in modules, instances, limits and capabilities.
//
// One Runtime per node holds the compiled modules (Compile) and the host
// modules every guest may import (wasi_snapshot_preview1 and wask). A
// Spec grants a guest its arguments, environment, output, memory limit,
// wall-clock limit, directory mounts, real clocks, real randomness and
// outbound HTTP; the zero Spec grants none of them. RunCommand runs a WASI
// command to its Exit; NewHandler serves HTTP from a module in CGI style
// (a fresh instance per request) or as a reactor (a pool of warm
// instances calling the guest's wask_http_handle export; the ABI is
// wasm-samples/ABI.md).
//
// It imports nothing of wask.
package sandbox
