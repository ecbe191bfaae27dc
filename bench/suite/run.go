package suite

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"
)

// Options say how scenarios run. The zero value runs 5 rounds quietly.
type Options struct {
	// Quick runs small amounts and fewer rounds, to check scenarios work
	// (CI), not to measure.
	Quick bool
	// Rounds of each comparison. Default 5, or 2 with Quick.
	Rounds int
	// Progress gets a live status line (rewritten with \r). Nil: none.
	Progress io.Writer
	// Wask is the path of a wask binary for scenarios that run daemons.
	// Empty: built from this module's ./cmd/wask (needs the source tree).
	Wask string
	// WorkDir holds the scenarios' data; empty: a temporary directory.
	WorkDir string
}

func (o Options) rounds() int {
	switch {
	case o.Rounds > 0:
		return o.Rounds
	case o.Quick:
		return 2
	}
	return 5
}

// Env is what a running scenario gets: its options, its report, and
// helpers that keep the progress line current.
type Env struct {
	Opts   Options
	Report *Report
	dir    string
}

// Progress rewrites the status line.
func (e *Env) Progress(format string, args ...any) {
	if e.Opts.Progress != nil {
		line := fmt.Sprintf("[%s] "+format, append([]any{e.Report.Scenario}, args...)...)
		if len(line) > 110 {
			line = line[:110]
		}
		fmt.Fprintf(e.Opts.Progress, "\r\033[K%s", line)
	}
}

// Quick picks the quick or the full amount.
func (e *Env) Quick(quick, full int) int {
	if e.Opts.Quick {
		return quick
	}
	return full
}

// Contender is one side of a comparison: Run does one round of the case's
// work and says what it measured.
type Contender struct {
	Name string
	Run  func(ctx context.Context) (Sample, error)
}

// Compare runs the contenders interleaved, round by round (A B A B ...),
// and adds the case to the report. A contender that fails is reported
// with its error and left out of later rounds; Compare fails only if the
// first contender (wask) does.
func (e *Env) Compare(ctx context.Context, c *Case, contenders ...Contender) error {
	failed := map[string]bool{}
	rounds := e.Opts.rounds()
	for r := range rounds {
		for i, ct := range contenders {
			if failed[ct.Name] {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			e.Progress("%s: round %d/%d: %s", c.Name, r+1, rounds, ct.Name)
			s, err := ct.Run(ctx)
			if err != nil {
				if i == 0 {
					return fmt.Errorf("%s: %s: %w", c.Name, ct.Name, err)
				}
				failed[ct.Name] = true
				e.Report.Note("%s: %s failed and was left out: %v", c.Name, ct.Name, err)
				continue
			}
			side := c.side(ct.Name)
			side.Throughput = append(side.Throughput, s.Throughput())
			side.Ops += s.Ops
			side.Latencies = append(side.Latencies, s.Latencies...)
		}
	}
	for _, s := range c.Sides {
		slices.Sort(s.Latencies)
		if len(s.Latencies) > 0 {
			s.Percentiles = map[string]time.Duration{"p50": s.P(0.5), "p90": s.P(0.9), "p99": s.P(0.99), "p99.9": s.P(0.999), "max": s.Latencies[len(s.Latencies)-1]}
		}
	}
	e.Report.Cases = append(e.Report.Cases, c)
	return nil
}

// Closed runs op from workers goroutines until n operations are done and
// returns the sample, with every operation's latency. The first error ends
// the round.
func Closed(ctx context.Context, workers, n int, op func(ctx context.Context, worker, i int) error) (Sample, error) {
	lat := make([][]time.Duration, workers)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	errs := make(chan error, workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	for w := range workers {
		go func() {
			var err error
			for i := range next {
				t := time.Now()
				if err = op(ctx, w, i); err != nil {
					cancel()
					break
				}
				lat[w] = append(lat[w], time.Since(t))
			}
			errs <- err
		}()
	}
	var first error
	for range workers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	s := Sample{Ops: n, Elapsed: time.Since(start)}
	for _, l := range lat {
		s.Latencies = append(s.Latencies, l...)
	}
	return s, first
}
