package wasmlet

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// Pod phases, condition types and reasons, in the kubelet's vocabulary.
const (
	PhasePending   = "Pending"
	PhaseRunning   = "Running"
	PhaseSucceeded = "Succeeded"
	PhaseFailed    = "Failed"

	CondScheduled   = "PodScheduled"
	CondInitialized = "Initialized"
	CondReady       = "Ready"
)

// nodeConditions are the pod condition types the node owns; others (the
// scheduler's PodScheduled) are kept as they are when it writes status.
var nodeConditions = []string{CondInitialized, CondReady}

// setCondition sets a condition in s, keeping its transition time when its
// status does not change.
func setCondition(s *waskv1.PodStatus, typ string, ok bool, reason, message string, now time.Time) {
	status := "False"
	if ok {
		status = "True"
	}
	for _, c := range s.Conditions {
		if c.GetType() == typ {
			if c.GetStatus() != status {
				c.LastTransitionTime = timestamppb.New(now)
			}
			c.Status, c.Reason, c.Message = status, reason, message
			return
		}
	}
	s.Conditions = append(s.Conditions, &waskv1.Condition{Type: typ, Status: status, Reason: reason, Message: message, LastTransitionTime: timestamppb.New(now)})
}

// condition returns the condition typ of s, or nil.
func condition(s *waskv1.PodStatus, typ string) *waskv1.Condition {
	for _, c := range s.GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

// mergeStatus returns the status to write: cur (the pod's status as
// stored) with the node's fields and conditions replaced by node's, and
// PodScheduled=True added if nobody set it (a pod created with its node
// named, bypassing the scheduler).
func mergeStatus(cur, node *waskv1.PodStatus, now time.Time) *waskv1.PodStatus {
	out := proto.Clone(node).(*waskv1.PodStatus)
	out.Conditions = nil
	out.NominatedNodeName = cur.GetNominatedNodeName()
	if c := condition(cur, CondScheduled); c != nil {
		out.Conditions = append(out.Conditions, proto.Clone(c).(*waskv1.Condition))
	} else {
		ts := timestamppb.New(now)
		out.Conditions = append(out.Conditions, &waskv1.Condition{Type: CondScheduled, Status: "True", LastTransitionTime: ts})
	}
	for _, c := range cur.GetConditions() {
		if c.GetType() != CondScheduled && !isNodeCondition(c.GetType()) {
			out.Conditions = append(out.Conditions, proto.Clone(c).(*waskv1.Condition))
		}
	}
	for _, typ := range nodeConditions {
		if c := condition(node, typ); c != nil {
			out.Conditions = append(out.Conditions, proto.Clone(c).(*waskv1.Condition))
		}
	}
	return out
}

func isNodeCondition(typ string) bool {
	for _, t := range nodeConditions {
		if t == typ {
			return true
		}
	}
	return false
}

// shouldRestart applies a restart policy to an instance's exit.
func shouldRestart(policy string, succeeded bool) bool {
	switch policy {
	case "Never":
		return false
	case "OnFailure":
		return !succeeded
	default: // "Always"
		return true
	}
}

// restartDelay is the back-off before restart number n+1 (n restarts so
// far since the back-off was reset): base doubled n times, capped.
func restartDelay(base, maxDelay time.Duration, n int) time.Duration {
	d := base
	for i := 0; i < n && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}
