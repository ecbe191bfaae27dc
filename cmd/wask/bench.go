package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wask-dev/wask/bench/suite"
)

func newBenchCmd(e *env) *cobra.Command {
	var (
		opts          suite.Options
		jsonPath, out string
	)
	var lines []string
	for _, n := range suite.Names() {
		lines = append(lines, fmt.Sprintf("  %-10s %s", n, suite.Doc(n)))
	}
	c := &cobra.Command{
		Use:   "bench SCENARIO... | all",
		Short: "Run the benchmark suite: wask against its peers, side by side",
		Long: `Run benchmark scenarios. Each compares wask with its peers on this machine in this run,
interleaved round by round, and reports medians, p50/p99 and the ratio to wask.

Scenarios:
` + strings.Join(lines, "\n") + `

The store scenario's peers (raw Pebble, embedded etcd) are built from the source tree's
bench/peers module, so run it inside a checkout of wask.`,
		Example: `  wask bench store --out bench-report --json bench.json
  wask bench all --quick`,
		Args: argsRange(1, 100),
		RunE: func(c *cobra.Command, args []string) error {
			if exe, err := os.Executable(); err == nil {
				opts.Wask = exe
			}
			opts.Progress = e.stderr
			reports, err := suite.RunScenarios(c.Context(), args, opts, jsonPath, out)
			for _, r := range reports {
				r.Markdown(e.stdout, nil)
			}
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&jsonPath, "json", "", "write the results as JSON to this file")
	f.StringVar(&out, "out", "", "write a Markdown report and plots (PNG, SVG) into this directory")
	f.BoolVar(&opts.Quick, "quick", false, "small amounts and 2 rounds: check the scenarios work")
	f.IntVar(&opts.Rounds, "rounds", 0, "rounds of each comparison (default 5; 2 with --quick)")
	return c
}
