package sched

import (
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

func TestMarkUnschedulable(t *testing.T) {
	t0, t1 := timestamppb.New(timeAt(0)), timestamppb.New(timeAt(1))
	p := pod("p")
	r := &report{message: "0/1 nodes are available: 1 insufficient memory."}
	if !markUnschedulable(p, r, t0) {
		t.Fatal("a pod without the condition was not marked")
	}
	if markUnschedulable(p, r, t1) {
		t.Error("the same report was written twice")
	}
	r2 := &report{message: "0/2 nodes are available: 2 too many pods.", nominated: "n1"}
	if !markUnschedulable(p, r2, t1) {
		t.Fatal("a new message was not written")
	}
	c := podCondition(p, "PodScheduled")
	if c.GetMessage() != r2.message || !c.GetLastTransitionTime().AsTime().Equal(t0.AsTime()) || !c.GetLastUpdateTime().AsTime().Equal(t1.AsTime()) ||
		p.GetStatus().GetNominatedNodeName() != "n1" || len(p.GetStatus().GetConditions()) != 1 {
		t.Errorf("condition %v, nominated %q", c, p.GetStatus().GetNominatedNodeName())
	}
	p.Status.Conditions = []*waskv1.Condition{{Type: "PodScheduled", Status: "True"}}
	if !markUnschedulable(p, r, t1) || !podCondition(p, "PodScheduled").GetLastTransitionTime().AsTime().Equal(t1.AsTime()) {
		t.Error("a transition from True did not get a new transition time")
	}
}
