package suite

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

var unsafeFile = regexp.MustCompile(`[^a-z0-9]+`)

func fileName(parts ...string) string {
	return strings.Trim(unsafeFile.ReplaceAllString(strings.ToLower(strings.Join(parts, "-")), "-"), "-")
}

// Plots draws the report's figures into dir, each as PNG and SVG, and
// returns the PNGs' file names: per case with latencies, its latency
// distribution (latency at each percentile, one line per side); per group
// of cases, throughput against concurrency.
func (r *Report) Plots(dir string) ([]string, error) {
	var files []string
	save := func(p *plot.Plot, name string) error {
		for _, ext := range []string{".png", ".svg"} {
			if err := p.Save(7*vg.Inch, 4*vg.Inch, filepath.Join(dir, name+ext)); err != nil {
				return fmt.Errorf("plot %s: %w", name, err)
			}
		}
		files = append(files, name+".png")
		return nil
	}
	groups := map[string][]*Case{}
	var order []string
	for _, c := range r.Cases {
		if c.Group != "" && c.Concurrency > 0 {
			if groups[c.Group] == nil {
				order = append(order, c.Group)
			}
			groups[c.Group] = append(groups[c.Group], c)
		}
		var lines []any
		for _, s := range c.Sides {
			if len(s.Latencies) < 2 {
				continue
			}
			pts := make(plotter.XYs, 0, 100)
			for q := 0.0; q <= 99.9; q += 1 {
				pts = append(pts, plotter.XY{X: q, Y: float64(s.P(q/100)) / 1e3})
			}
			pts = append(pts, plotter.XY{X: 99.9, Y: float64(s.P(0.999)) / 1e3})
			lines = append(lines, s.Name, pts)
		}
		if len(lines) == 0 {
			continue
		}
		p := plot.New()
		p.Title.Text = r.Scenario + ": " + c.Name
		p.X.Label.Text = "percentile"
		p.Y.Label.Text = "latency (µs)"
		if err := plotutil.AddLinePoints(p, lines...); err != nil {
			return nil, err
		}
		p.Legend.Top, p.Legend.Left = true, true
		if err := save(p, fileName(r.Scenario, c.Name, "latency")); err != nil {
			return nil, err
		}
	}
	for _, g := range order {
		bySide := map[string]plotter.XYs{}
		var sides []string
		for _, c := range groups[g] {
			for _, s := range c.Sides {
				if bySide[s.Name] == nil {
					sides = append(sides, s.Name)
				}
				bySide[s.Name] = append(bySide[s.Name], plotter.XY{X: float64(c.Concurrency), Y: s.MedianThroughput()})
			}
		}
		var lines []any
		for _, s := range sides {
			lines = append(lines, s, bySide[s])
		}
		p := plot.New()
		p.Title.Text = r.Scenario + ": " + g
		p.X.Label.Text = "concurrency"
		p.Y.Label.Text = "operations/s (median of rounds)"
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		if err := plotutil.AddLinePoints(p, lines...); err != nil {
			return nil, err
		}
		p.Legend.Top, p.Legend.Left = true, true
		if err := save(p, fileName(r.Scenario, g, "throughput")); err != nil {
			return nil, err
		}
	}
	return files, nil
}
