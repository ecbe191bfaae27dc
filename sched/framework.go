package sched

import (
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"sync"
)

// MaxNodeScore is the highest score a ScorePlugin gives a node.
const MaxNodeScore = 100

// Code says whether a pod fits a node.
type Code uint8

const (
	// Success: the pod fits.
	Success Code = iota
	// Unschedulable: the pod does not fit, but might if lower-priority
	// pods left the node (preemption can help).
	Unschedulable
	// UnschedulableAndUnresolvable: removing pods would not help.
	UnschedulableAndUnresolvable
)

// Status is a filter's verdict on one node; the zero value is Success.
type Status struct {
	Code Code
	// Reason is a short phrase that completes "N ...", like kube-scheduler's:
	// "insufficient memory", "node(s) had untolerated taint {dedicated: gpu}".
	Reason string
}

// OK reports whether the status is Success.
func (s Status) OK() bool { return s.Code == Success }

// Plugin is anything the framework runs; its name is how the Config
// refers to it.
type Plugin interface {
	Name() string
}

// NodeFilter checks one node for the pod it was prepared for.
type NodeFilter func(n *NodeInfo) Status

// FilterPlugin decides which nodes can take a pod.
type FilterPlugin interface {
	Plugin
	// PreFilter prepares the check of p, once per pod. It returns a
	// NodeFilter for each node, or nil if p passes on every node, or a
	// non-Success Status if p fails on every node.
	PreFilter(s *Snapshot, p *PodInfo) (NodeFilter, Status)
}

// ScorePlugin ranks the nodes that passed every filter.
type ScorePlugin interface {
	Plugin
	// Score writes a score from 0 to MaxNodeScore for each of nodes into
	// the same index of scores (which is zeroed and as long as nodes).
	Score(s *Snapshot, p *PodInfo, nodes []*NodeInfo, scores []int64)
}

// weighted is an enabled scorer and its weight.
type weighted struct {
	ScorePlugin
	weight int64
}

// Framework is the configured set of plugins. Its methods only read the
// snapshot they are given, so one Framework may serve several goroutines
// with different snapshots.
type Framework struct {
	filters []FilterPlugin
	scorers []weighted
	seed    uint64
	topo    []string
	percent int
	bufs    sync.Pool // *buffers
}

// numFeasibleToFind is how many feasible nodes are enough, out of n
// (kube-scheduler's numFeasibleNodesToFind): all of up to 100 nodes;
// beyond that Config.PercentageOfNodesToScore percent, or, when that is
// 0, 50% less 1% per 125 nodes, at least 5%; never fewer than 100.
func (f *Framework) numFeasibleToFind(n int) int {
	if n <= 100 || f.percent >= 100 {
		return n
	}
	pct := f.percent
	if pct <= 0 {
		pct = max(50-n/125, 5)
	}
	return max(n*pct/100, 100)
}

type buffers struct {
	filters  []NodeFilter
	feasible []*NodeInfo
	scores   [][]int64
	total    []int64
}

// NewSnapshot returns an empty snapshot that tracks what this framework's
// plugins need (the topology keys to spread over).
func (f *Framework) NewSnapshot() *Snapshot { return newSnapshot(f.topo) }

// NodeFailure is why a pod does not fit one node.
type NodeFailure struct {
	Node   string
	Status Status
}

// PluginScore is one scorer's part of a node's score.
type PluginScore struct {
	Plugin string
	// Score is the plugin's score (0 to MaxNodeScore); it counts Weight
	// times in the total.
	Score  int64
	Weight int64
}

// Result is the outcome of Schedule.
type Result struct {
	// Node is the chosen node; empty if none fits.
	Node string
	// Score is the chosen node's total (the weighted sum of Breakdown).
	Score int64
	// Breakdown is the chosen node's score per plugin.
	Breakdown []PluginScore
	// NumNodes is how many nodes the snapshot has, Evaluated how many
	// were filtered (see Config.PercentageOfNodesToScore), Feasible how
	// many of those fit.
	NumNodes, Evaluated, Feasible int
	// Failures says, for each evaluated node that does not fit, why.
	Failures []NodeFailure
	// PodStatus is set when the pod fits no node at all, whatever the
	// node (for example, its Module is unknown).
	PodStatus Status
}

// Message explains in one line, like kube-scheduler, why no node fits:
// "0/3 nodes are available: 2 insufficient memory, 1 node(s) had
// untolerated taint {dedicated: gpu}." Reasons are ordered by how many
// nodes give them, then alphabetically.
func (r *Result) Message() string {
	if r.Node != "" {
		return ""
	}
	if r.PodStatus.Code != Success {
		return fmt.Sprintf("0/%d nodes are available: %s.", r.NumNodes, r.PodStatus.Reason)
	}
	if r.NumNodes == 0 {
		return "0/0 nodes are available: no nodes in the cluster."
	}
	counts := map[string]int{}
	for _, f := range r.Failures {
		counts[f.Status.Reason]++
	}
	reasons := make([]string, 0, len(counts))
	for reason := range counts {
		reasons = append(reasons, reason)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if counts[reasons[i]] != counts[reasons[j]] {
			return counts[reasons[i]] > counts[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	var b strings.Builder
	fmt.Fprintf(&b, "0/%d nodes are available: ", r.NumNodes)
	for i, reason := range reasons {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %s", counts[reason], reason)
	}
	b.WriteString(".")
	return b.String()
}

// Resolvable reports whether preemption might help: the pod failed on at
// least one node only for want of room.
func (r *Result) Resolvable() bool {
	if r.PodStatus.Code != Success {
		return false
	}
	for _, f := range r.Failures {
		if f.Status.Code == Unschedulable {
			return true
		}
	}
	return false
}

// Schedule chooses a node for p in s: the filters remove the nodes p
// cannot run on, the scorers rank the rest, and the node with the highest
// weighted total wins. Like kube-scheduler, it stops filtering once it has
// found enough feasible nodes (Config.PercentageOfNodesToScore), starting
// at a node chosen by hashing Config.Seed and the pod's uid and name; when
// no node fits, every node has been filtered. Ties are broken by a
// pseudo-random choice from the same hash. So the same snapshot, pod and
// seed always give the same result, while different pods start and
// tie-break at different nodes.
func (f *Framework) Schedule(s *Snapshot, p *PodInfo) Result {
	res := Result{NumNodes: len(s.order)}
	b, _ := f.bufs.Get().(*buffers)
	if b == nil {
		b = &buffers{}
	}
	defer f.bufs.Put(b)

	b.filters = b.filters[:0]
	for _, fp := range f.filters {
		nf, st := fp.PreFilter(s, p)
		if !st.OK() {
			res.PodStatus = st
			res.Failures = make([]NodeFailure, len(s.order))
			for i, n := range s.order {
				res.Failures[i] = NodeFailure{Node: n.Name, Status: st}
			}
			return res
		}
		if nf != nil {
			b.filters = append(b.filters, nf)
		}
	}
	b.feasible = b.feasible[:0]
	rng := f.seed ^ hashString(p.Pod.GetMetadata().GetUid()+"/"+p.Key)
	want, start := f.numFeasibleToFind(len(s.order)), 0
	if len(s.order) > 0 {
		start = int(rng % uint64(len(s.order)))
	}
nodes:
	for i := range s.order {
		if len(b.feasible) >= want {
			break
		}
		j := start + i
		if j >= len(s.order) {
			j -= len(s.order)
		}
		n := s.order[j]
		res.Evaluated++
		for _, nf := range b.filters {
			if st := nf(n); !st.OK() {
				res.Failures = append(res.Failures, NodeFailure{Node: n.Name, Status: st})
				continue nodes
			}
		}
		b.feasible = append(b.feasible, n)
	}
	res.Feasible = len(b.feasible)
	if len(b.feasible) == 0 {
		return res
	}

	for len(b.scores) < len(f.scorers) {
		b.scores = append(b.scores, nil)
	}
	b.total = resize(b.total, len(b.feasible))
	for i, sp := range f.scorers {
		b.scores[i] = resize(b.scores[i], len(b.feasible))
		sp.Score(s, p, b.feasible, b.scores[i])
		for j, v := range b.scores[i] {
			b.total[j] += min(max(v, 0), MaxNodeScore) * sp.weight
		}
	}
	// The highest total, then a uniformly chosen one of the nodes that
	// have it.
	top, ties := b.total[0], 0
	for _, t := range b.total {
		if t > top {
			top, ties = t, 1
		} else if t == top {
			ties++
		}
	}
	pick := int((splitmix(rng) >> 32) * uint64(ties) >> 32)
	best := 0
	for j, t := range b.total {
		if t == top {
			if pick == 0 {
				best = j
				break
			}
			pick--
		}
	}
	res.Node = b.feasible[best].Name
	res.Score = b.total[best]
	res.Breakdown = make([]PluginScore, len(f.scorers))
	for i, sp := range f.scorers {
		res.Breakdown[i] = PluginScore{Plugin: sp.Name(), Score: min(max(b.scores[i][best], 0), MaxNodeScore), Weight: sp.weight}
	}
	return res
}

// resize returns buf with length n, zeroed.
func resize(buf []int64, n int) []int64 {
	buf = slices.Grow(buf[:0], n)[:n]
	clear(buf)
	return buf
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// splitmix is one step of the SplitMix64 generator.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
