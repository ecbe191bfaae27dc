package suite

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Scenario is one benchmark: Run fills env.Report.
type Scenario struct {
	Name string
	Doc  string
	Run  func(ctx context.Context, env *Env) error
}

var scenarios = map[string]Scenario{}

func register(s Scenario) { scenarios[s.Name] = s }

// Names lists the scenarios, sorted.
func Names() []string {
	var names []string
	for n := range scenarios {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Doc is a scenario's one-line description.
func Doc(name string) string { return scenarios[name].Doc }

// RunScenarios runs the named scenarios ("all" for every one) in order,
// then writes the reports as JSON to jsonPath and as Markdown with plots
// into outDir (either may be empty: not written).
func RunScenarios(ctx context.Context, names []string, opts Options, jsonPath, outDir string) ([]*Report, error) {
	if len(names) == 1 && names[0] == "all" {
		names = Names()
	}
	for _, n := range names {
		if _, ok := scenarios[n]; !ok {
			return nil, fmt.Errorf("bench: no scenario %q (there are: %s)", n, strings.Join(Names(), ", "))
		}
	}
	if opts.WorkDir == "" {
		dir, err := os.MkdirTemp("", "wask-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		opts.WorkDir = dir
	}
	var reports []*Report
	for _, n := range names {
		r := &Report{Scenario: n, Started: time.Now(), Machine: machine(), Rounds: opts.rounds(), Quick: opts.Quick}
		dir := filepath.Join(opts.WorkDir, n)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return reports, err
		}
		env := &Env{Opts: opts, Report: r, dir: dir}
		err := scenarios[n].Run(ctx, env)
		if opts.Progress != nil {
			fmt.Fprint(opts.Progress, "\r\033[K")
		}
		if err != nil {
			return reports, fmt.Errorf("bench %s: %w", n, err)
		}
		reports = append(reports, r)
	}
	if jsonPath != "" {
		b, err := json.MarshalIndent(reports, "", "  ")
		if err != nil {
			return reports, err
		}
		if err := os.WriteFile(jsonPath, b, 0o644); err != nil {
			return reports, err
		}
	}
	if outDir != "" {
		if err := writeMarkdown(reports, outDir); err != nil {
			return reports, err
		}
	}
	return reports, nil
}

func writeMarkdown(reports []*Report, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "report.md"))
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "# wask bench\n\n")
	for _, r := range reports {
		plots, err := r.Plots(dir)
		if err != nil {
			return err
		}
		r.Markdown(f, plots)
	}
	return f.Close()
}

// machine describes this machine in one line.
func machine() string {
	model, mem := "", ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
	}
	return fmt.Sprintf("%d CPUs %s%s, %s %s/%s", runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
