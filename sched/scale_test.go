package sched

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

// BenchmarkScale10kPods1kNodes is the end-to-end scale benchmark: a real
// store (synced writes) and apiserver over TLS on loopback
// (internal/testcluster), 1,000 simulated nodes (Node, status, Lease; no
// sandboxes, like kwok) in 3 zones, the scheduler, and 10,000 pods of 10
// owners created by 64 concurrent clients over 8 connections. It reports
// pods/s from the first create to the last binding, and the p50/p99 of
// each pod's create→bound latency, measured by the apiserver's own
// timestamps (metadata.creationTimestamp to the PodScheduled condition's
// lastTransitionTime, both set by the server that did the write).
//
//	go test ./sched/ -run '^$' -bench Scale -benchtime 1x
//
// The sub-benchmark createsOnly runs the same creates with no scheduler:
// the ceiling the control plane sets on the same machine at the same time.
func BenchmarkScale10kPods1kNodes(b *testing.B) {
	b.Run("scheduler", func(b *testing.B) { benchScale(b, true) })
	b.Run("createsOnly", func(b *testing.B) { benchScale(b, false) })
}

func benchScale(b *testing.B, withScheduler bool) {
	const numNodes, numPods, writers, conns = 1000, 10_000, 64, 8
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := startCluster(b)
		push(b, c.Client, "hello", wasmModule("wasi_snapshot_preview1"))
		clients := make([]*client.Client, conns)
		for j := range clients {
			clients[j] = c.NewClient(b, c.ClientConfig())
		}
		parallel(writers, numNodes, func(w, j int) {
			addSimNode(b, clients[w%conns], node(simName(j), labels("zone", fmt.Sprintf("z%d", j%3)), alloc("64Gi", "64", "1000")))
		})
		var s *Scheduler
		if withScheduler {
			s = runScheduler(b, c.NewClient(b, c.ClientConfig()), Config{})
			waitFor(b, "scheduler to see the nodes", time.Minute, func() (bool, string) {
				s.mu.Lock()
				defer s.mu.Unlock()
				return len(s.snap.Nodes()) == numNodes, fmt.Sprint(len(s.snap.Nodes()))
			})
		}

		b.StartTimer()
		cpu0 := processCPU()
		start := time.Now()
		var createErrs atomic.Int64
		parallel(writers, numPods, func(w, j int) {
			p := pod(fmt.Sprintf("p-%05d", j), owned(fmt.Sprintf("rs-%d", j%10)), requests("16Mi", "10m"))
			p.Metadata.Uid, p.Status = "", nil
			if _, err := client.Create(context.Background(), clients[w%conns], p); err != nil {
				createErrs.Add(1)
			}
		})
		created := time.Since(start)
		if !withScheduler {
			b.ReportMetric(float64(numPods)/created.Seconds(), "creates/s")
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/numPods, "cpu-µs/pod")
			continue
		}
		waitFor(b, "every pod bound", 2*time.Minute, func() (bool, string) {
			n := testutil.ToFloat64(s.metrics.bound)
			return n >= numPods, fmt.Sprint(n)
		})
		elapsed := time.Since(start)
		cpu := processCPU() - cpu0
		b.StopTimer()
		if createErrs.Load() > 0 {
			b.Fatalf("%d creates failed", createErrs.Load())
		}

		pods, _, err := client.List[*waskv1.Pod](context.Background(), c.Client, client.ListOptions{PageSize: 10_000})
		if err != nil {
			b.Fatal(err)
		}
		var lat []time.Duration
		perNode := map[string]int{}
		for _, p := range pods {
			cond := podCondition(p, "PodScheduled")
			if p.GetSpec().GetNodeName() == "" || cond.GetStatus() != "True" {
				b.Fatalf("pod %s not bound", p.GetMetadata().GetName())
			}
			perNode[p.GetSpec().GetNodeName()]++
			lat = append(lat, cond.GetLastTransitionTime().AsTime().Sub(p.GetMetadata().GetCreationTimestamp().AsTime()))
		}
		slices.Sort(lat)
		q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
		maxPerNode := 0
		for _, n := range perNode {
			maxPerNode = max(maxPerNode, n)
		}
		b.ReportMetric(float64(numPods)/elapsed.Seconds(), "pods/s")
		b.ReportMetric(float64(numPods)/created.Seconds(), "creates/s")
		b.ReportMetric(float64(cpu.Microseconds())/numPods, "cpu-µs/pod")
		b.ReportMetric(q(0.5), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
		b.ReportMetric(q(1), "max-ms")
		b.ReportMetric(float64(len(perNode)), "nodes-used")
		b.ReportMetric(float64(maxPerNode), "max-pods/node")
		b.ReportMetric(testutil.ToFloat64(s.metrics.bound)/float64(histCount(b, s)), "pods/bind")
	}
}

// histCount returns how many Bind calls the scheduler made.
func histCount(b *testing.B, s *Scheduler) uint64 {
	var m dto.Metric
	if err := s.metrics.bindBatch.Write(&m); err != nil {
		b.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// processCPU is the CPU time (user and system) this process has used. The
// benchmark reports it per pod: on a machine shared with other work the
// wall-clock rate says how much CPU the process got, the CPU per pod says
// what the work costs.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parallel runs fn(worker, j) for j in [0, n) on workers goroutines.
func parallel(workers, n int, fn func(w, j int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				j := int(next.Add(1)) - 1
				if j >= n {
					return
				}
				fn(w, j)
			}
		})
	}
	wg.Wait()
}
