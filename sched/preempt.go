package sched

import (
	"cmp"
	"slices"
)

// Preemption is a node where p fits once the victims are gone.
type Preemption struct {
	Node    string
	Victims []*PodInfo
}

// Preempt looks, after Schedule found no node for p, for the node where
// removing the fewest and least important lower-priority pods makes room.
// Only nodes p failed for want of room (res.Failures with Code
// Unschedulable) are candidates, and only pods bound there (not assumed,
// not already terminating) of lower priority than p are victims. On each
// node it removes every candidate victim, checks that p then fits, and
// gives back (from the highest priority down) every victim p can do
// without. Among the nodes that work it chooses the lowest highest victim
// priority, then the fewest victims, then the lowest sum of priorities,
// then the node name. ok is false when no node works.
func (f *Framework) Preempt(s *Snapshot, p *PodInfo, res *Result) (pre Preemption, ok bool) {
	type option struct {
		Preemption
		top, sum int64
	}
	var best *option
	for _, fl := range res.Failures {
		if fl.Status.Code != Unschedulable {
			continue
		}
		n, found := s.Node(fl.Node)
		if !found {
			continue
		}
		var cands []*PodInfo
		used := n.Requested
		for _, q := range n.Nominated {
			if q.Priority >= p.Priority && q.Key != p.Key {
				used = used.Add(q.Requests)
			}
		}
		for _, q := range n.Pods {
			if pl := s.pods[q.Key]; q.Priority < p.Priority && !q.Terminating && !pl.assumed {
				cands = append(cands, q)
				used = used.Sub(q.Requests)
			}
		}
		if len(cands) == 0 || !fitStatus(p.Requests, used, n.Allocatable).OK() {
			continue
		}
		// Give back the most important victims first.
		slices.SortFunc(cands, func(a, b *PodInfo) int {
			return cmp.Or(cmp.Compare(b.Priority, a.Priority), cmp.Compare(a.Key, b.Key))
		})
		o := &option{Preemption: Preemption{Node: n.Name}}
		for _, q := range cands {
			if with := used.Add(q.Requests); fitStatus(p.Requests, with, n.Allocatable).OK() {
				used = with
				continue
			}
			o.Victims = append(o.Victims, q)
			o.top = max(o.top, int64(q.Priority))
			if len(o.Victims) == 1 {
				o.top = int64(q.Priority)
			}
			o.sum += int64(q.Priority)
		}
		if best == nil || cmp.Or(
			cmp.Compare(o.top, best.top),
			cmp.Compare(len(o.Victims), len(best.Victims)),
			cmp.Compare(o.sum, best.sum),
			cmp.Compare(o.Node, best.Node)) < 0 {
			best = o
		}
	}
	if best == nil {
		return Preemption{}, false
	}
	return best.Preemption, true
}
