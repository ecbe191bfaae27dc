package suite

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// wantSides is how many sides the first case of a scenario must have: every
// peer this machine has (CI installs haproxy, nginx and runc) must run.
func wantSides(scenario string) int {
	installed := func(names ...string) (n int) {
		for _, name := range names {
			if _, err := exec.LookPath(name); err == nil {
				n++
			} else if _, err := os.Stat("/usr/sbin/" + name); err == nil {
				n++
			}
		}
		return n
	}
	switch scenario {
	case "store":
		return 3
	case "http":
		return 4 + installed("haproxy", "nginx")
	case "podstart":
		return 2 + installed("runc")
	}
	return 1
}

// TestScenariosQuick runs every scenario in --quick mode: it checks they
// work and write their report, not their speed.
func TestScenariosQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("builds peers and runs daemons")
	}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			out := t.TempDir()
			reports, err := RunScenarios(ctx, []string{name}, Options{Quick: true, WorkDir: t.TempDir()}, filepath.Join(out, "r.json"), out)
			if err != nil {
				t.Fatal(err)
			}
			if len(reports) != 1 || len(reports[0].Cases) == 0 {
				t.Fatalf("no cases reported")
			}
			for _, c := range reports[0].Cases {
				if len(c.Sides) == 0 {
					t.Errorf("case %q: no side", c.Name)
				}
			}
			for _, n := range reports[0].Notes {
				t.Log(n)
			}
			if want := wantSides(name); len(reports[0].Cases[0].Sides) < want {
				t.Errorf("case %q: %d sides, want %d (a peer was left out: see the notes)", reports[0].Cases[0].Name, len(reports[0].Cases[0].Sides), want)
			}
			for _, f := range []string{"r.json", "report.md"} {
				if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
					t.Errorf("%s not written: %v", f, err)
				}
			}
		})
	}
}
