package suite

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Side is one contender's results in a case: the throughput of each round
// and every latency sample, pooled.
type Side struct {
	Name       string    `json:"name"`
	Throughput []float64 `json:"throughput"` // ops/s, one per round
	// Latencies of single operations, sorted; in the JSON only as
	// Percentiles (the samples of a full run are tens of megabytes).
	Latencies []time.Duration `json:"-"`
	// Percentiles of Latencies in nanoseconds: "p50", "p90", "p99",
	// "p99.9", "max".
	Percentiles map[string]time.Duration `json:"percentiles_ns,omitempty"`
	Ops         int                      `json:"ops"`
	// Failed counts operations that failed (a request lost, an error).
	Failed int `json:"failed,omitempty"`
}

// MedianThroughput is the median of the rounds' throughput.
func (s *Side) MedianThroughput() float64 { return median(s.Throughput) }

// P is the q-th latency percentile.
func (s *Side) P(q float64) time.Duration { return percentile(s.Latencies, q) }

// Case is one comparison: the same work done by each side.
type Case struct {
	Name string `json:"name"`
	// Group and Concurrency place the case on a throughput-against-
	// concurrency plot (cases of one group, one line per side).
	Group       string  `json:"group,omitempty"`
	Concurrency int     `json:"concurrency,omitempty"`
	Sides       []*Side `json:"sides"`
	// Metrics are single figures that are not per-round throughput
	// (a memory per pod, a failover time), by side then name.
	Metrics map[string]map[string]float64 `json:"metrics,omitempty"`
	Units   map[string]string             `json:"units,omitempty"`
}

// side returns the named side, made if new.
func (c *Case) side(name string) *Side {
	for _, s := range c.Sides {
		if s.Name == name {
			return s
		}
	}
	s := &Side{Name: name}
	c.Sides = append(c.Sides, s)
	return s
}

// SetMetric records a single figure of a side.
func (c *Case) SetMetric(side, name, unit string, v float64) {
	if c.Metrics == nil {
		c.Metrics, c.Units = map[string]map[string]float64{}, map[string]string{}
	}
	if c.Metrics[side] == nil {
		c.Metrics[side] = map[string]float64{}
	}
	c.Metrics[side][name] = v
	c.Units[name] = unit
	c.side(side)
}

// Report is one scenario's results.
type Report struct {
	Scenario string    `json:"scenario"`
	Started  time.Time `json:"started"`
	Machine  string    `json:"machine"`
	Rounds   int       `json:"rounds"`
	Quick    bool      `json:"quick"`
	Cases    []*Case   `json:"cases"`
	// Notes explain what the figures are, and any peer left out and why.
	Notes []string `json:"notes,omitempty"`
}

// Note adds a line to the report's notes.
func (r *Report) Note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// Markdown writes the report as Markdown tables, a section per case: each
// side's median throughput, p50 and p99, and its ratio to the first side
// (wask).
func (r *Report) Markdown(w io.Writer, plots []string) {
	fmt.Fprintf(w, "## %s\n\n%s; %d round(s), interleaved%s; %s.\n\n", r.Scenario, r.Machine, r.Rounds, map[bool]string{true: " (--quick)"}[r.Quick], r.Started.Format("2006-01-02 15:04 MST"))
	for _, c := range r.Cases {
		fmt.Fprintf(w, "### %s\n\n", c.Name)
		if len(c.Sides) > 0 && (c.Sides[0].Ops > 0 || len(c.Sides[0].Latencies) > 0) {
			fmt.Fprintln(w, "| side | ops/s (median of rounds) | p50 | p99 | ops/s vs first | p50 vs first | failed |")
			fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
			base := c.Sides[0]
			for _, s := range c.Sides {
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %d |\n", s.Name, num(s.MedianThroughput()), dur(s.P(0.5)), dur(s.P(0.99)),
					ratio(s.MedianThroughput(), base.MedianThroughput()), ratio(float64(s.P(0.5)), float64(base.P(0.5))), s.Failed)
			}
			fmt.Fprintln(w)
		}
		if len(c.Metrics) > 0 {
			var names []string
			for _, m := range c.Metrics {
				for n := range m {
					if !slices.Contains(names, n) {
						names = append(names, n)
					}
				}
			}
			slices.Sort(names)
			fmt.Fprintf(w, "| side | %s |\n|---|%s\n", strings.Join(names, " | "), strings.Repeat("---|", len(names)))
			for _, s := range c.Sides {
				if c.Metrics[s.Name] == nil {
					continue
				}
				fmt.Fprintf(w, "| %s |", s.Name)
				for _, n := range names {
					v, ok := c.Metrics[s.Name][n]
					if ok {
						fmt.Fprintf(w, " %s %s |", num(v), c.Units[n])
					} else {
						fmt.Fprint(w, " — |")
					}
				}
				fmt.Fprintln(w)
			}
			fmt.Fprintln(w)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
	}
	for _, p := range plots {
		fmt.Fprintf(w, "![%s](%s)\n\n", p, p)
	}
}

func num(v float64) string {
	switch {
	case v == 0:
		return "—"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func ratio(v, base float64) string {
	if v == 0 || base == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", v/base)
}
