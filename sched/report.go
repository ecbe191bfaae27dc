package sched

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

// report is what to tell about a pod that fits no node.
type report struct {
	pod       *waskv1.Pod
	message   string
	nominated string     // node where victims were preempted
	victims   []*PodInfo // to delete
}

// eventComponent is the source of the scheduler's events.
const eventComponent = "scheduler"

// runReports writes reports: the pod's PodScheduled=False condition and a
// FailedScheduling event, and for a preemption the victims' deletion. Only
// the latest report per pod is written; writes never hold up scheduling.
func (s *Scheduler) runReports(ctx context.Context) {
	for {
		key, ok := s.reports.Get(ctx)
		if !ok {
			return
		}
		v, ok := s.pendingR.LoadAndDelete(key)
		if !ok {
			s.reports.Done(key)
			continue
		}
		r := v.(*report)
		if err := s.writeReport(ctx, r); err != nil && ctx.Err() == nil {
			s.log.Warn("scheduler: cannot report unschedulable pod", "pod", key, "err", err)
			s.pendingR.LoadOrStore(key, r)
			s.reports.AddRateLimited(key)
		} else {
			s.reports.Forget(key)
		}
		s.reports.Done(key)
	}
}

func (s *Scheduler) writeReport(ctx context.Context, r *report) error {
	md := r.pod.GetMetadata()
	for _, v := range r.victims {
		vm := v.Pod.GetMetadata()
		_, err := client.Delete[*waskv1.Pod](ctx, s.opts.Client, vm.GetNamespace(), vm.GetName(), &waskv1.Preconditions{Uid: vm.GetUid()})
		if err != nil && connect.CodeOf(err) != connect.CodeNotFound && connect.CodeOf(err) != connect.CodeAborted {
			return fmt.Errorf("preempt pod %s: %w", v.Key, err)
		}
		msg := fmt.Sprintf("Preempted by %s/%s on node %s", md.GetNamespace(), md.GetName(), r.nominated)
		if err := s.event(ctx, v.Pod, "Normal", "Preempted", msg); err != nil {
			return err
		}
	}
	if err := s.setUnschedulable(ctx, r); err != nil {
		return err
	}
	return s.event(ctx, r.pod, "Warning", "FailedScheduling", r.message)
}

// setUnschedulable writes PodScheduled=False with the message, if the pod
// does not say so already. The write is conditional on the revision the
// scheduler saw, so it can never undo a binding; if the pod changed
// meanwhile, it is read again and, if still unbound, written again.
func (s *Scheduler) setUnschedulable(ctx context.Context, r *report) error {
	p := proto.Clone(r.pod).(*waskv1.Pod)
	for attempt := 0; ; attempt++ {
		if !markUnschedulable(p, r, timestamppb.New(s.opts.Now())) {
			return nil // already says so
		}
		_, err := client.UpdateStatus(ctx, s.opts.Client, p)
		switch {
		case err == nil, connect.CodeOf(err) == connect.CodeNotFound:
			return nil
		case connect.CodeOf(err) != connect.CodeAborted:
			return fmt.Errorf("update status of pod %s/%s: %w", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), err)
		case attempt == 2:
			return nil // changing fast: the next attempt will report
		}
		md := r.pod.GetMetadata()
		if p, err = client.Get[*waskv1.Pod](ctx, s.opts.Client, md.GetNamespace(), md.GetName()); err != nil {
			if connect.CodeOf(err) == connect.CodeNotFound {
				return nil
			}
			return fmt.Errorf("read pod %s/%s: %w", md.GetNamespace(), md.GetName(), err)
		}
		if p.GetSpec().GetNodeName() != "" || p.GetMetadata().GetUid() != md.GetUid() || p.GetMetadata().GetDeletionTimestamp() != nil {
			return nil // bound (or replaced, or leaving) meanwhile
		}
	}
}

// markUnschedulable sets p's PodScheduled=False condition (and nominated
// node) from r; it reports false if p already says so.
func markUnschedulable(p *waskv1.Pod, r *report, now *timestamppb.Timestamp) bool {
	if p.Status == nil {
		p.Status = &waskv1.PodStatus{}
	}
	cond := &waskv1.Condition{Type: "PodScheduled", Status: "False", Reason: "Unschedulable", Message: r.message, LastTransitionTime: now, LastUpdateTime: now}
	found := false
	for i, c := range p.Status.Conditions {
		if c.GetType() != "PodScheduled" {
			continue
		}
		found = true
		if c.GetStatus() == "False" && c.GetMessage() == r.message && c.GetReason() == "Unschedulable" &&
			(r.nominated == "" || p.Status.NominatedNodeName == r.nominated) {
			return false
		}
		if c.GetStatus() == "False" {
			cond.LastTransitionTime = c.GetLastTransitionTime()
		}
		p.Status.Conditions[i] = cond
	}
	if !found {
		p.Status.Conditions = append(p.Status.Conditions, cond)
	}
	if r.nominated != "" {
		p.Status.NominatedNodeName = r.nominated
	}
	return true
}

// event records an Event about pod, folding repeats into one Event with a
// count, as kube's event recorder does. The Event's name is the pod's
// name and a hash of the pod's uid, the reason and the message.
func (s *Scheduler) event(ctx context.Context, pod *waskv1.Pod, typ, reason, message string) error {
	md := pod.GetMetadata()
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s", md.GetUid(), reason, message)
	base := md.GetName()
	if len(base) > 253-17 { // room for the hash
		base = strings.TrimRight(base[:253-17], ".-")
	}
	name := fmt.Sprintf("%s.%016x", base, h.Sum64())
	now := timestamppb.New(s.opts.Now())
	for range 3 {
		ev, err := client.Get[*waskv1.Event](ctx, s.opts.Client, md.GetNamespace(), name)
		if connect.CodeOf(err) == connect.CodeNotFound {
			_, err = client.Create(ctx, s.opts.Client, &waskv1.Event{
				Metadata:       &waskv1.ObjectMeta{Name: name, Namespace: md.GetNamespace()},
				InvolvedObject: &waskv1.ObjectReference{Kind: "Pod", Namespace: md.GetNamespace(), Name: md.GetName(), Uid: md.GetUid()},
				Reason:         reason, Message: message, Type: typ, Count: 1,
				FirstTimestamp: now, LastTimestamp: now,
				Source: &waskv1.EventSource{Component: eventComponent},
			})
			if connect.CodeOf(err) == connect.CodeAlreadyExists {
				continue
			}
		} else if err == nil {
			ev.Count++
			ev.LastTimestamp = now
			_, err = client.Update(ctx, s.opts.Client, ev)
			if connect.CodeOf(err) == connect.CodeAborted {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("record event %s for pod %s/%s: %w", reason, md.GetNamespace(), md.GetName(), err)
		}
		return nil
	}
	return nil
}
