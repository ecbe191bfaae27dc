// Package sandbox runs WebAssembly modules with wazero. It is the only
// package of wask that imports wazero, and it knows nothing of pods: it
// deals in modules, instances, limits and capabilities.
package sandbox
