package wasmlet

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

func TestRestartDelayDoublesUpToTheCap(t *testing.T) {
	var got []time.Duration
	for n := range 6 {
		got = append(got, restartDelay(10*time.Millisecond, 100*time.Millisecond, n))
	}
	want := []time.Duration{10, 20, 40, 80, 100, 100}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("restartDelay (-want +got):\n%s", diff)
	}
}

func TestShouldRestart(t *testing.T) {
	tests := []struct {
		policy    string
		succeeded bool
		want      bool
	}{
		{"Always", true, true}, {"Always", false, true}, {"", true, true},
		{"OnFailure", true, false}, {"OnFailure", false, true},
		{"Never", true, false}, {"Never", false, false},
	}
	for _, tt := range tests {
		if got := shouldRestart(tt.policy, tt.succeeded); got != tt.want {
			t.Errorf("shouldRestart(%q, %v) = %v, want %v", tt.policy, tt.succeeded, got, tt.want)
		}
	}
}

func TestMergeStatusKeepsTheSchedulersConditions(t *testing.T) {
	now := time.Unix(1000, 0)
	ts := timestamppb.New(now.Add(-time.Minute))
	cur := &waskv1.PodStatus{
		Phase: "Pending", NominatedNodeName: "n1",
		Conditions: []*waskv1.Condition{
			{Type: "PodScheduled", Status: "True", LastTransitionTime: ts},
			{Type: "Ready", Status: "Unknown"},
			{Type: "DisruptionTarget", Status: "True"},
		},
	}
	node := &waskv1.PodStatus{Phase: "Running", RestartCount: 2}
	setCondition(node, CondInitialized, true, "", "", now)
	setCondition(node, CondReady, true, "", "", now)
	got := mergeStatus(cur, node, now)
	want := &waskv1.PodStatus{
		Phase: "Running", RestartCount: 2, NominatedNodeName: "n1",
		Conditions: []*waskv1.Condition{
			{Type: "PodScheduled", Status: "True", LastTransitionTime: ts},
			{Type: "DisruptionTarget", Status: "True"},
			{Type: "Initialized", Status: "True", LastTransitionTime: timestamppb.New(now)},
			{Type: "Ready", Status: "True", LastTransitionTime: timestamppb.New(now)},
		},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("mergeStatus (-want +got):\n%s", diff)
	}
	// A pod created with its node named has no PodScheduled: the node adds it.
	got = mergeStatus(&waskv1.PodStatus{}, node, now)
	if c := condition(got, CondScheduled); c == nil || c.GetStatus() != "True" {
		t.Errorf("no PodScheduled=True added: %v", got.GetConditions())
	}
}

func TestSetConditionKeepsTransitionTime(t *testing.T) {
	s := &waskv1.PodStatus{}
	t0, t1 := time.Unix(1, 0), time.Unix(2, 0)
	setCondition(s, CondReady, true, "", "", t0)
	setCondition(s, CondReady, true, "", "again", t1)
	if got := condition(s, CondReady).GetLastTransitionTime().AsTime(); !got.Equal(t0) {
		t.Errorf("transition time moved without a change: %v", got)
	}
	setCondition(s, CondReady, false, "X", "", t1)
	if got := condition(s, CondReady).GetLastTransitionTime().AsTime(); !got.Equal(t1) {
		t.Errorf("transition time not updated on a change: %v", got)
	}
}
