package sched

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

var hostNames = []string{"wasi_snapshot_preview1", "wask", "wasi_http", "gpu"}

func genNode(i int) *rapid.Generator[*waskv1.Node] {
	return rapid.Custom(func(t *rapid.T) *waskv1.Node {
		n := node(fmt.Sprintf("n%02d", i),
			alloc(fmt.Sprintf("%dMi", rapid.IntRange(0, 256).Draw(t, "mem")),
				fmt.Sprintf("%dm", rapid.IntRange(0, 4000).Draw(t, "cpu")),
				fmt.Sprint(rapid.IntRange(0, 8).Draw(t, "pods"))),
			labels("zone", rapid.SampledFrom([]string{"z1", "z2", "z3"}).Draw(t, "zone")),
			hostModules(rapid.SliceOfDistinct(rapid.SampledFrom(hostNames), rapid.ID[string]).Draw(t, "host")...),
			modes(rapid.SliceOfDistinct(rapid.SampledFrom(allModes), rapid.ID[string]).Draw(t, "modes")...),
		)
		if rapid.IntRange(0, 5).Draw(t, "cordon") == 0 {
			cordoned(n)
		}
		if rapid.IntRange(0, 5).Draw(t, "ready") == 0 {
			notReady(n)
		}
		if rapid.Bool().Draw(t, "tainted") {
			taint("dedicated", rapid.SampledFrom([]string{"gpu", "db"}).Draw(t, "taint"), rapid.SampledFrom([]string{"NoSchedule", "NoExecute", "PreferNoSchedule"}).Draw(t, "effect"))(n)
		}
		return n
	})
}

func genPod(i int) *rapid.Generator[*waskv1.Pod] {
	return rapid.Custom(func(t *rapid.T) *waskv1.Pod {
		p := pod(fmt.Sprintf("p%03d", i),
			requests(fmt.Sprintf("%dMi", rapid.IntRange(0, 64).Draw(t, "mem")), fmt.Sprintf("%dm", rapid.IntRange(0, 1000).Draw(t, "cpu"))),
			moduleRef(rapid.SampledFrom([]string{"m-wasi", "m-wask", "m-gpu"}).Draw(t, "module")),
			mode(rapid.SampledFrom(allModes).Draw(t, "mode")),
			owned(rapid.SampledFrom([]string{"rs1", "rs2"}).Draw(t, "owner")),
		)
		if rapid.Bool().Draw(t, "tolerates") {
			tolerate("dedicated", "Equal", "gpu", "")(p)
		}
		if rapid.IntRange(0, 3).Draw(t, "select") == 0 {
			selector("zone", rapid.SampledFrom([]string{"z1", "z2"}).Draw(t, "selZone"))(p)
		}
		return p
	})
}

var propModules = []*waskv1.Module{
	module("m-wasi", []string{"wasi_snapshot_preview1"}, allModes...),
	module("m-wask", []string{"wasi_snapshot_preview1", "wask"}, "http-reactor", "command"),
	module("m-gpu", []string{"gpu"}, allModes...),
}

// fitsIndependently is a second, naive statement of the filters, written
// from the API objects and this test's own count of what is on each node.
func fitsIndependently(n *waskv1.Node, p *waskv1.Pod, used Resources) error {
	ready := slices.ContainsFunc(n.GetStatus().GetConditions(), func(c *waskv1.Condition) bool { return c.GetType() == "Ready" && c.GetStatus() == "True" })
	if !ready || n.GetSpec().GetUnschedulable() {
		return fmt.Errorf("not ready or cordoned")
	}
	for k, v := range p.GetSpec().GetNodeSelector() {
		if n.GetMetadata().GetLabels()[k] != v {
			return fmt.Errorf("selector")
		}
	}
	for _, tn := range n.GetSpec().GetTaints() {
		if tn.GetEffect() != "PreferNoSchedule" && !(len(p.GetSpec().GetTolerations()) > 0 && tn.GetValue() == "gpu") {
			return fmt.Errorf("taint")
		}
	}
	var m *waskv1.Module
	for _, pm := range propModules {
		if pm.GetMetadata().GetName() == p.GetSpec().GetModule() {
			m = pm
		}
	}
	for _, h := range m.GetStatus().GetHostModules() {
		if !slices.Contains(n.GetStatus().GetCapabilities().GetHostModules(), h) {
			return fmt.Errorf("host module %s", h)
		}
	}
	if !slices.Contains(n.GetStatus().GetCapabilities().GetModes(), p.GetSpec().GetMode()) ||
		!slices.Contains(m.GetStatus().GetModes(), p.GetSpec().GetMode()) {
		return fmt.Errorf("mode")
	}
	req, _ := podRequests(p)
	alloc, _ := nodeAllocatable(n)
	if (req.Memory > 0 && used.Memory+req.Memory > alloc.Memory) || (req.MilliCPU > 0 && used.MilliCPU+req.MilliCPU > alloc.MilliCPU) || used.Pods+1 > alloc.Pods {
		return fmt.Errorf("room")
	}
	return nil
}

// TestPropertyPlacements schedules a random stream of pods on random
// nodes, assuming each placement, and checks every step against the naive
// statement of the filters: a chosen node fits (never beyond capacity,
// never without a needed capability), and when none is chosen, none fits.
// A second snapshot built from the same objects in another order must make
// the same choices.
func TestPropertyPlacements(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		numNodes := rapid.IntRange(0, 8).Draw(t, "numNodes")
		var nodes []*waskv1.Node
		for i := range numNodes {
			nodes = append(nodes, genNode(i).Draw(t, "node"))
		}
		var pods []*waskv1.Pod
		for i := range rapid.IntRange(1, 30).Draw(t, "numPods") {
			pods = append(pods, genPod(i).Draw(t, "pod"))
		}
		seed := rapid.Uint64().Draw(t, "seed")
		fw, err := NewFramework(Config{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		build := func(reverse bool) *Snapshot {
			s := fw.NewSnapshot()
			ns, ms := slices.Clone(nodes), slices.Clone(propModules)
			if reverse {
				slices.Reverse(ns)
				slices.Reverse(ms)
			}
			for _, m := range ms {
				s.SetModule(m)
			}
			for _, n := range ns {
				if err := s.SetNode(n); err != nil {
					t.Fatal(err)
				}
			}
			return s
		}
		s1, s2 := build(false), build(true)
		used := map[string]Resources{}
		for _, p := range pods {
			pi, err := NewPodInfo(p)
			if err != nil {
				t.Fatal(err)
			}
			r1, r2 := fw.Schedule(s1, pi), fw.Schedule(s2, pi)
			if r1.Node != r2.Node || r1.Score != r2.Score || r1.Message() != r2.Message() {
				t.Fatalf("%s: same input, different output: %q (%d) vs %q (%d)", pi.Key, r1.Node, r1.Score, r2.Node, r2.Score)
			}
			if r1.Node == "" {
				for _, n := range nodes {
					if err := fitsIndependently(n, p, used[n.GetMetadata().GetName()]); err == nil {
						t.Fatalf("%s: no node chosen (%s) but %s fits", pi.Key, r1.Message(), n.GetMetadata().GetName())
					}
				}
				continue
			}
			var chosen *waskv1.Node
			for _, n := range nodes {
				if n.GetMetadata().GetName() == r1.Node {
					chosen = n
				}
			}
			if err := fitsIndependently(chosen, p, used[r1.Node]); err != nil {
				t.Fatalf("%s placed on %s, which does not fit: %v", pi.Key, r1.Node, err)
			}
			used[r1.Node] = used[r1.Node].Add(pi.Requests)
			s1.Assume(pi, r1.Node)
			s2.Assume(pi, r2.Node)
		}
	})
}

// TestPropertySnapshotAccounting checks that after any sequence of pod
// adds, moves and removals the snapshot's per-node requests equal the sum
// over the pods it counts there.
func TestPropertySnapshotAccounting(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		fw, _ := NewFramework(Config{})
		s := fw.NewSnapshot()
		for i := range 3 {
			s.SetNode(node(fmt.Sprintf("n%d", i), labels("zone", fmt.Sprint(i%2))))
		}
		for range rapid.IntRange(0, 60).Draw(t, "ops") {
			name := fmt.Sprintf("p%d", rapid.IntRange(0, 5).Draw(t, "pod"))
			switch rapid.IntRange(0, 4).Draw(t, "op") {
			case 0, 1:
				p := pod(name, requests(fmt.Sprintf("%dMi", rapid.IntRange(0, 9).Draw(t, "mem")), ""), owned("rs"),
					onNode(fmt.Sprintf("n%d", rapid.IntRange(0, 3).Draw(t, "node"))))
				if err := s.SetPod(p); err != nil {
					t.Fatal(err)
				}
			case 2:
				pi, err := NewPodInfo(pod(name, requests("1Mi", ""), owned("rs")))
				if err != nil {
					t.Fatal(err)
				}
				s.Assume(pi, "n1")
			case 3:
				s.Forget("default/" + name)
			case 4:
				s.RemovePod("default/" + name)
			}
		}
		var total int32
		for name, n := range s.byName {
			var sum Resources
			for _, p := range n.Pods {
				sum = sum.Add(p.Requests)
				if pl := s.pods[p.Key]; pl == nil || pl.node != name {
					t.Fatalf("pod %s on %s is not recorded there", p.Key, name)
				}
			}
			if sum != n.Requested {
				t.Fatalf("node %s: requested %+v, pods sum to %+v", name, n.Requested, sum)
			}
			c := s.owners["rs"].onNode(n)
			if int(c) != len(n.Pods) {
				t.Fatalf("node %s: owner count %d, %d pods", name, c, len(n.Pods))
			}
			total += c
		}
		if int(total) != s.NumPods() {
			t.Fatalf("owner total %d, %d pods", total, s.NumPods())
		}
	})
}
