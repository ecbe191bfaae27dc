// Package testsched runs the real scheduler for tests of other parts (the
// scheduler's own tests cannot import a package that imports it; they
// have their own helper).
package testsched

import (
	"context"
	"log/slog"
	"testing"

	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/sched"
)

// Start runs the scheduler with its default config, through c (an admin
// client), until the test ends, as `wask up` runs it.
func Start(tb testing.TB, c *client.Client) {
	tb.Helper()
	s, err := sched.New(sched.Options{Client: c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatalf("testsched: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	tb.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			tb.Errorf("testsched: scheduler: %v", err)
		}
	})
}
