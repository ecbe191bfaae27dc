package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/bench/suite"
	"github.com/wask-dev/wask/client"
)

func newBenchCmd(e *env) *cobra.Command {
	var (
		opts          suite.Options
		jsonPath, out string
		load          suite.LoadOptions
		service, ns   string
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
bench/peers module, so run it inside a checkout of wask.

"wask bench http --service NAME" is instead a load generator for a service of the cluster the
client config names: an open loop at --rps for --duration through a node's ingress (--ingress,
default the first node's), with a latency report.`,
		Example: `  wask bench store --out bench-report --json bench.json
  wask bench all --quick
  wask bench http --service tiny --rps 2000 --duration 30s`,
		Args: argsRange(1, 100),
		RunE: func(c *cobra.Command, args []string) error {
			if service != "" {
				if len(args) != 1 || args[0] != "http" {
					return usagef("--service goes with the http scenario only: wask bench http --service NAME")
				}
				return e.benchLoad(c, load, service, ns)
			}
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
	f.StringVar(&service, "service", "", "http only: load this Service of the cluster instead of running the scenario")
	f.StringVarP(&ns, "namespace", "n", "default", "the Service's namespace (with --service)")
	f.IntVar(&load.RPS, "rps", 100, "requests per second (with --service)")
	f.DurationVar(&load.Duration, "duration", 10*time.Second, "how long the load lasts (with --service)")
	f.StringVar(&load.Ingress, "ingress", "", "host:port of a node's ingress (with --service; default: the first Ready node's)")
	f.StringVar(&load.Path, "path", "/", "the requests' path (with --service)")
	f.IntVar(&load.MaxInFlight, "max-in-flight", 1000, "requests outstanding at most (with --service)")
	return c
}

// benchLoad is `wask bench http --service NAME`.
func (e *env) benchLoad(c *cobra.Command, load suite.LoadOptions, service, ns string) error {
	ctx := c.Context()
	load.Host = service + "." + ns
	if load.Ingress == "" {
		cl, err := e.dial()
		if err != nil {
			return err
		}
		nodes, _, err := client.List[*waskv1.Node](ctx, cl, client.ListOptions{})
		if err != nil {
			return explain(cl, err)
		}
		for _, n := range nodes {
			for _, a := range n.GetStatus().GetAddresses() {
				if a.GetType() == "Ingress" && load.Ingress == "" {
					load.Ingress = a.GetAddress()
				}
			}
		}
		if load.Ingress == "" {
			return fmt.Errorf("no node publishes an Ingress address; give --ingress host:port")
		}
	}
	load.Progress = e.stderr
	res, err := suite.Load(ctx, load)
	if err != nil {
		return err
	}
	res.Report(e.stdout, load)
	if res.OK == 0 {
		return fmt.Errorf("no request succeeded")
	}
	return nil
}
