package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/wask-dev/wask/internal/conformance"
)

// errTestsFailed makes `wask conformance` exit 1 after its report.
var errTestsFailed = errors.New("some tests failed")

func newConformanceCmd(e *env) *cobra.Command {
	var (
		namespace, expectations, workDir, node string
		parallel                               int
		timeout                                time.Duration
	)
	c := &cobra.Command{
		Use:   "conformance DIR",
		Short: "Run a folder of WASI test programs as command pods and judge them",
		Long: `Run every NAME.wasm under DIR as a command pod and compare its exit code and output with
NAME.json (the wasi-testsuite's format: args, env, root or dirs, exit_code, stdout, stderr; or
its newer operations). A test with a root directory gets a fresh copy of it, mounted read-write
as the guest's "/": the copy goes under --work-dir, which the pods' node must see at the same path
and allow (wask node --allow-host-path; wask up allows any path).

Tests listed in --expectations (a wasi-testsuite expectations TOML file) are known to differ:
they are reported as XFAIL, or XPASS if they pass, and do not fail the run. Exit code 1 if any
other test fails.`,
		Example: `  wask conformance ../shared/testdata/wasi-testsuite/tests \
      --expectations ../shared/testdata/wasi-testsuite/expectations-wazero-linux.toml`,
		Args: argsRange(1, 1),
		RunE: func(c *cobra.Command, args []string) error {
			tests, err := conformance.Discover(args[0])
			if err != nil {
				return err
			}
			var exp conformance.Expectations
			if expectations != "" {
				if exp, err = conformance.ParseExpectations(expectations); err != nil {
					return err
				}
			}
			cl, err := e.dial()
			if err != nil {
				return err
			}
			if workDir == "" {
				if workDir, err = os.MkdirTemp("", "wask-conformance-"); err != nil {
					return err
				}
				defer os.RemoveAll(workDir)
			}
			if workDir, err = filepath.Abs(workDir); err != nil {
				return err
			}
			r := &conformance.Runner{
				Client: cl,
				Push: func(ctx context.Context, path string) (string, error) {
					m, err := pushModule(ctx, cl, path, "", nil)
					if err != nil {
						return "", explain(cl, err)
					}
					return m.GetSpec().GetDigest(), nil
				},
				WorkDir: workDir, Namespace: namespace, NodeName: node, Parallel: parallel, Timeout: timeout,
				Expectations: exp, Progress: e.stdout,
			}
			fmt.Fprintf(e.stderr, "running %d tests from %s\n", len(tests), args[0])
			results, err := r.Run(c.Context(), tests)
			fmt.Fprintln(e.stdout, conformance.Summary(results))
			if err != nil {
				return err
			}
			for _, res := range results {
				if res.Failed() {
					return errTestsFailed
				}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVarP(&namespace, "namespace", "n", "default", "namespace of the test pods")
	f.StringVar(&expectations, "expectations", "", "TOML file listing the tests known to differ")
	f.StringVar(&workDir, "work-dir", "", "where the fresh copies of the tests' directories go (default: a new temporary directory)")
	f.StringVar(&node, "node", "", "run every test pod on this node (default: the scheduler places them)")
	f.IntVar(&parallel, "parallel", 4, "how many tests run at once")
	f.DurationVar(&timeout, "timeout", 2*time.Minute, "the longest one test may take")
	return c
}
