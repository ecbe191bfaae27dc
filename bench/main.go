// Command bench runs wask's benchmark suite (package bench/suite): `go run
// ./bench [flags] <scenario>|all`. `wask bench` is the same.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/wask-dev/wask/bench/suite"
)

func main() {
	var opts suite.Options
	jsonPath := flag.String("json", "", "write the results as JSON to this file")
	out := flag.String("out", "", "write a Markdown report and plots (PNG, SVG) into this directory")
	flag.BoolVar(&opts.Quick, "quick", false, "small amounts and 2 rounds: check the scenarios work")
	flag.IntVar(&opts.Rounds, "rounds", 0, "rounds of each comparison (default 5; 2 with -quick)")
	flag.StringVar(&opts.Wask, "wask", "", "a wask binary for the scenarios that run daemons (default: built from ./cmd/wask)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: go run ./bench [flags] <scenario>... | all\n\nscenarios:\n")
		for _, n := range suite.Names() {
			fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, suite.Doc(n))
		}
		fmt.Fprintln(os.Stderr, "\nflags:")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	opts.Progress = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	reports, err := suite.RunScenarios(ctx, flag.Args(), opts, *jsonPath, *out)
	for _, r := range reports {
		r.Markdown(os.Stdout, nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
