package sched

import (
	"context"
	"time"
)

// runScheduling is the scheduling loop: one pod at a time, as in
// kube-scheduler, so each decision sees every earlier one (assumed).
func (s *Scheduler) runScheduling(ctx context.Context) {
	for {
		e := s.queue.Pop(ctx)
		if e == nil {
			return
		}
		s.scheduleOne(ctx, e)
	}
}

// scheduleOne runs one scheduling attempt for e.
func (s *Scheduler) scheduleOne(ctx context.Context, e *qEntry) {
	start := time.Now()
	pi, err := NewPodInfo(e.pod)
	if err != nil {
		s.metrics.attempt("error", time.Since(start))
		s.log.Error("scheduler: cannot read pod", "pod", e.key, "err", err)
		s.queue.Unschedulable(e)
		return
	}
	s.mu.Lock()
	res := s.fw.Schedule(s.snap, pi)
	if res.Node != "" {
		s.snap.Assume(pi, res.Node)
		s.mu.Unlock()
		s.metrics.attempt("scheduled", time.Since(start))
		select {
		case s.binds <- bindRequest{entry: e, info: pi, node: res.Node}:
		case <-ctx.Done():
		}
		return
	}
	var pre Preemption
	preempted := false
	if res.Resolvable() {
		if pre, preempted = s.fw.Preempt(s.snap, pi, &res); preempted {
			s.snap.Nominate(pi, pre.Node)
		}
	}
	s.mu.Unlock()
	s.metrics.attempt("unschedulable", time.Since(start))
	s.queue.Unschedulable(e)
	r := &report{pod: e.pod, message: res.Message()}
	if preempted {
		r.nominated = pre.Node
		r.victims = pre.Victims
		s.metrics.preemptions.Add(float64(len(pre.Victims)))
	}
	s.pendingR.Store(e.key, r)
	s.reports.Add(e.key)
}
