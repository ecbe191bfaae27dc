package sched

// The built-in scorers.
const (
	LeastAllocatedName  = "LeastAllocated"
	MostAllocatedName   = "MostAllocated"
	OwnerSpreadName     = "OwnerSpread"
	TopologySpreadName  = "TopologySpread"
	NodePreferenceName  = "NodePreference"
	TaintPreferenceName = "TaintPreference"
)

// LeastAllocated prefers nodes with the most room left after the pod:
// the mean over memory and CPU of free/allocatable. It spreads load.
type LeastAllocated struct{}

func (LeastAllocated) Name() string { return LeastAllocatedName }

func (LeastAllocated) Score(_ *Snapshot, p *PodInfo, nodes []*NodeInfo, scores []int64) {
	for i, n := range nodes {
		scores[i] = allocationScore(p.Requests, n, false)
	}
}

// MostAllocated prefers the fullest nodes that still fit the pod (bin
// packing): the mean over memory and CPU of used/allocatable.
type MostAllocated struct{}

func (MostAllocated) Name() string { return MostAllocatedName }

func (MostAllocated) Score(_ *Snapshot, p *PodInfo, nodes []*NodeInfo, scores []int64) {
	for i, n := range nodes {
		scores[i] = allocationScore(p.Requests, n, true)
	}
}

// allocationScore is the mean, over the resources the node has, of the
// used (most) or free (least) fraction after adding req, in 0..100.
func allocationScore(req Resources, n *NodeInfo, most bool) int64 {
	var sum, k int64
	if a := n.Allocatable.Memory; a > 0 {
		sum += usedFraction(n.Requested.Memory+req.Memory, a, n.memScale, most)
		k++
	}
	if a := n.Allocatable.MilliCPU; a > 0 {
		sum += usedFraction(n.Requested.MilliCPU+req.MilliCPU, a, n.cpuScale, most)
		k++
	}
	if k == 2 {
		return sum / 2
	}
	return sum
}

// usedFraction is 100 × used / alloc (most) or 100 − that (least);
// scale is 100 / alloc. Scores are computed in floating point: a division
// per node and resource would cost more than the rest of the scoring.
func usedFraction(used, alloc int64, scale float64, most bool) int64 {
	used = min(max(used, 0), alloc)
	frac := min(scaled(used, scale), MaxNodeScore)
	if most {
		return frac
	}
	return MaxNodeScore - frac
}

// OwnerSpread prefers nodes with fewer pods of the pod's owner (its
// controller, e.g. a ReplicaSet): 100 × (max − count) / max over the
// candidate nodes. Pods without an owner score every node the same.
type OwnerSpread struct{}

func (OwnerSpread) Name() string { return OwnerSpreadName }

func (OwnerSpread) Score(s *Snapshot, p *PodInfo, nodes []*NodeInfo, scores []int64) {
	if p.Owner == "" {
		return
	}
	oc := s.owners[p.Owner]
	var most int64
	for i, n := range nodes {
		scores[i] = int64(oc.onNode(n))
		most = max(most, scores[i])
	}
	invert(scores, most)
}

// invert turns counts into 100 × (most − c) / most (all 100 if most is 0).
func invert(scores []int64, most int64) {
	if most == 0 {
		for i := range scores {
			scores[i] = MaxNodeScore
		}
		return
	}
	scale := MaxNodeScore / float64(most)
	for i, c := range scores {
		scores[i] = scaled(most-c, scale)
	}
}

// scaled returns ⌊x × scale⌋, allowing for the rounding error of the
// product when it should be a whole number.
func scaled(x int64, scale float64) int64 {
	return int64(float64(x)*scale + 1e-9)
}

// TopologySpread prefers nodes whose topology domain (the value of a
// label such as "zone", Config.TopologyKeys) holds fewer pods of the pod's
// owner; the mean over the keys. A node without the label scores 0 for
// that key.
type TopologySpread struct{}

func (TopologySpread) Name() string { return TopologySpreadName }

func (TopologySpread) Score(s *Snapshot, p *PodInfo, nodes []*NodeInfo, scores []int64) {
	if p.Owner == "" || len(s.topoKeys) == 0 {
		return
	}
	oc := s.owners[p.Owner]
	for k := range s.topoKeys {
		var counts []int32 // the owner's pods per value of key k
		if oc != nil {
			counts = oc.perTopo[k]
		}
		count := func(n *NodeInfo) (int32, bool) {
			v := n.topo[k]
			if v < 0 {
				return 0, false
			}
			if int(v) < len(counts) {
				return counts[v], true
			}
			return 0, true
		}
		var most int32
		for _, n := range nodes {
			if c, ok := count(n); ok {
				most = max(most, c)
			}
		}
		if most == 0 {
			for i, n := range nodes {
				if n.topo[k] >= 0 {
					scores[i] += MaxNodeScore
				}
			}
			continue
		}
		scale := MaxNodeScore / float64(most)
		for i, n := range nodes {
			if c, ok := count(n); ok {
				scores[i] += scaled(int64(most-c), scale)
			}
		}
	}
	for i := range scores {
		scores[i] /= int64(len(s.topoKeys))
	}
}

// NodePreference scores the pod's preferred node affinity: the sum of the
// weights of the terms a node matches, scaled so the best node gets 100.
type NodePreference struct{}

func (NodePreference) Name() string { return NodePreferenceName }

func (NodePreference) Score(_ *Snapshot, p *PodInfo, nodes []*NodeInfo, scores []int64) {
	terms := p.Pod.GetSpec().GetAffinity().GetNodeAffinity().GetPreferred()
	if len(terms) == 0 {
		return
	}
	var best int64
	for i, n := range nodes {
		for _, t := range terms {
			if termMatches(t.GetPreference(), n.labels) {
				scores[i] += int64(t.GetWeight())
			}
		}
		best = max(best, scores[i])
	}
	if best > 0 {
		for i := range scores {
			scores[i] = scores[i] * MaxNodeScore / best
		}
	}
}

// TaintPreference prefers nodes with fewer PreferNoSchedule taints the
// pod does not tolerate.
type TaintPreference struct{}

func (TaintPreference) Name() string { return TaintPreferenceName }

func (TaintPreference) Score(s *Snapshot, p *PodInfo, nodes []*NodeInfo, scores []int64) {
	if s.softTainted == 0 { // no node has one: all score the same
		invert(scores, 0)
		return
	}
	tols := p.Pod.GetSpec().GetTolerations()
	var most int64
	for i, n := range nodes {
		for _, t := range n.softTaints {
			if !tolerated(t, tols) {
				scores[i]++
			}
		}
		most = max(most, scores[i])
	}
	invert(scores, most)
}
