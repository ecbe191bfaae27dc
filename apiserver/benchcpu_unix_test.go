//go:build unix

package apiserver_test

import (
	"syscall"
	"testing"
	"time"
)

// processCPU returns the CPU time (user and system) this process has used.
// Benchmarks report it per op (cpu-ms/op): with client and server in one
// process it is the whole cost of an op, and unlike latency it hardly
// depends on what else the machine is running.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
