package sched

import (
	"fmt"
	"testing"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// BenchmarkSchedule1000Nodes measures the core alone: one Schedule and one
// Assume per placement, on 1,000 ready nodes in 3 zones with the default
// filters and scorers, for pods of 10 owners. Nodes fill up as the
// benchmark runs, so the snapshot is rebuilt every 50,000 placements.
func BenchmarkSchedule1000Nodes(b *testing.B) {
	for _, cfg := range []struct {
		name string
		cfg  Config
	}{
		{"default", Config{}},
		{"allNodes", Config{PercentageOfNodesToScore: 100}},
		{"mostAllocated", Config{Scorers: []ScorerConfig{{MostAllocatedName, 1}, {OwnerSpreadName, 2}, {TopologySpreadName, 2}}}},
	} {
		b.Run(cfg.name, func(b *testing.B) {
			fw := mustFramework(b, cfg.cfg)
			var nodes []*waskv1.Node
			for i := range 1000 {
				nodes = append(nodes, node(fmt.Sprintf("node-%04d", i), alloc("64Gi", "64", "1000"), labels("zone", fmt.Sprintf("z%d", i%3))))
			}
			pods := make([]*PodInfo, 50_000)
			for i := range pods {
				pods[i] = info(b, pod(fmt.Sprintf("p-%05d", i), requests("16Mi", "10m"), owned(fmt.Sprintf("rs-%d", i%10))))
			}
			var s *Snapshot
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for i := 0; i < b.N; i++ {
				if i%len(pods) == 0 {
					b.StopTimer()
					s = snap(b, fw, nodes, nil)
					b.StartTimer()
				}
				p := pods[i%len(pods)]
				res := fw.Schedule(s, p)
				if res.Node == "" {
					b.Fatalf("no node: %s", res.Message())
				}
				s.Assume(p, res.Node)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "placements/s")
			// On a shared machine the wall clock includes time the process
			// waited for a core; the CPU time per placement does not.
			b.ReportMetric(float64(b.N)/(processCPU()-cpu0).Seconds(), "placements/cpu-s")
		})
	}
}
