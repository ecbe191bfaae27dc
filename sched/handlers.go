package sched

import (
	"maps"

	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// The informers' handlers: they keep the snapshot current and tell the
// queue when a change may let waiting pods fit.

// onPod keeps the snapshot and the queue current with a pod.
func (s *Scheduler) onPod(old, pod *waskv1.Pod) {
	key := pod.GetMetadata().GetNamespace() + "/" + pod.GetMetadata().GetName()
	pi, err := NewPodInfo(pod)
	if err != nil { // the apiserver validates quantities, so this is a bug
		s.log.Error("scheduler: cannot read pod", "pod", key, "err", err)
		return
	}
	if pod.GetSpec().GetNodeName() != "" || pi.Finished() || pi.Terminating {
		s.mu.Lock()
		err := s.snap.SetPod(pod)
		if pod.GetSpec().GetNodeName() == "" {
			s.snap.RemovePod(key) // leaving before it was placed
		}
		s.mu.Unlock()
		if err != nil {
			s.log.Error("scheduler: cannot count pod", "pod", key, "err", err)
		}
		s.queue.Delete(key)
		if old != nil && (pi.Finished() != isFinished(old)) {
			s.queue.MoveAll() // its room is free again
		}
		return
	}
	s.mu.Lock()
	_, assumed, placed := s.snap.PodNode(key)
	if nn := pod.GetStatus().GetNominatedNodeName(); nn != "" {
		if cur, ok := s.snap.NominatedNode(key); !ok || cur != nn {
			s.snap.Nominate(pi, nn)
		}
	}
	s.mu.Unlock()
	if placed && assumed {
		return // binding in flight
	}
	retry := old == nil || old.GetMetadata().GetGeneration() != pod.GetMetadata().GetGeneration()
	s.queue.Add(pod, retry)
}

func isFinished(p *waskv1.Pod) bool {
	ph := p.GetStatus().GetPhase()
	return ph == "Succeeded" || ph == "Failed"
}

func (s *Scheduler) onPodDelete(pod *waskv1.Pod) {
	key := pod.GetMetadata().GetNamespace() + "/" + pod.GetMetadata().GetName()
	s.mu.Lock()
	_, _, placed := s.snap.PodNode(key)
	s.snap.RemovePod(key)
	s.mu.Unlock()
	s.queue.Delete(key)
	if placed {
		s.queue.MoveAll()
	}
}

func (s *Scheduler) onNode(old, n *waskv1.Node) {
	s.mu.Lock()
	err := s.snap.SetNode(n)
	s.mu.Unlock()
	if err != nil {
		s.log.Error("scheduler: ignoring node", "node", n.GetMetadata().GetName(), "err", err)
		return
	}
	if old == nil || nodeSchedulingChanged(old, n) {
		s.queue.MoveAll()
	}
}

// nodeSchedulingChanged reports whether a node update may let a pod fit:
// anything but a heartbeat.
func nodeSchedulingChanged(old, n *waskv1.Node) bool {
	ready := func(n *waskv1.Node) string {
		for _, c := range n.GetStatus().GetConditions() {
			if c.GetType() == "Ready" {
				return c.GetStatus()
			}
		}
		return ""
	}
	o, c := old.GetStatus(), n.GetStatus()
	return ready(old) != ready(n) ||
		!proto.Equal(old.GetSpec(), n.GetSpec()) ||
		!maps.Equal(old.GetMetadata().GetLabels(), n.GetMetadata().GetLabels()) ||
		!maps.Equal(o.GetAllocatable(), c.GetAllocatable()) || !maps.Equal(o.GetCapacity(), c.GetCapacity()) ||
		!proto.Equal(o.GetCapabilities(), c.GetCapabilities())
}

func (s *Scheduler) onNodeDelete(n *waskv1.Node) {
	s.mu.Lock()
	s.snap.RemoveNode(n.GetMetadata().GetName())
	s.mu.Unlock()
}

func (s *Scheduler) onModule(m *waskv1.Module, deleted bool) {
	s.mu.Lock()
	if deleted {
		s.snap.RemoveModule(m.GetMetadata().GetName())
	} else {
		s.snap.SetModule(m)
	}
	s.mu.Unlock()
	if !deleted {
		s.queue.MoveAll()
	}
}
