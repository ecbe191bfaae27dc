package wasmlet_test

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// compileCacheDir is wazero's compilation cache shared by the nodes of
// every test, and kept between runs in the user's cache directory (like
// Go's build cache): compiling the Go samples to machine code takes seconds
// under the race detector, loading them milliseconds. wazero keys entries
// by its version, the platform and the module's hash, so reuse is safe.
var compileCacheDir string

// TestMain checks that nothing the tests started (clusters, nodes, pods)
// leaves a goroutine behind.
func TestMain(m *testing.M) {
	var opts []goleak.Option
	dir, err := os.UserCacheDir()
	if err == nil {
		dir = filepath.Join(dir, "wask", "test-compiled")
		err = os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		dir, err = os.MkdirTemp("", "wasmlet-test-compiled-")
		if err != nil {
			panic(err)
		}
		opts = append(opts, goleak.Cleanup(func(int) { os.RemoveAll(dir) }))
	}
	compileCacheDir = dir
	goleak.VerifyTestMain(m, opts...)
}
