package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// env is what commands read and write besides their flags, so tests can
// run them in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	now            func() time.Time
	configPath     string // --config
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	root := newRoot(e)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "error:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "wask",
		Short: "wask runs WebAssembly workloads on a cluster, Kubernetes-style",
		Long: `wask runs WebAssembly workloads on a cluster, Kubernetes-style.

Start a single-node cluster with "wask up", then deploy with "wask apply -f".

Exit codes: 0 success, 1 error, 2 wrong usage.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nSee '%s --help'.", err, c.CommandPath())}
	})
	root.PersistentFlags().StringVar(&e.configPath, "config", "", "client config file (default $WASK_CONFIG, else the file `wask up` writes)")
	root.AddCommand(
		newVersionCmd(e),
		newGetCmd(e),
		newApplyCmd(e),
		newDeleteCmd(e),
		newPushCmd(e),
		newConformanceCmd(e),
		newBenchCmd(e),
		newDescribeCmd(e),
		newServerCmd(e),
		newUpCmd(e),
		newNodeCmd(e),
		newLogsCmd(e),
		newRolloutCmd(e), newScaleCmd(e),
	)
	return root
}

// exactArgs is cobra.ExactArgs with a usage error.
func argsRange(minN, maxN int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < minN || len(args) > maxN {
			return usagef("%s takes %d to %d arguments, got %d\nSee '%s --help'.", c.Name(), minN, maxN, len(args), c.CommandPath())
		}
		return nil
	}
}
