package ctrl_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
)

func TestSelects(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front"}
	for _, c := range []struct {
		sel  *waskv1.LabelSelector
		want bool
	}{
		{nil, true},
		{&waskv1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, true},
		{&waskv1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, false},
		{&waskv1.LabelSelector{MatchExpressions: []*waskv1.LabelSelectorRequirement{{Key: "tier", Operator: "In", Values: []string{"front", "back"}}}}, true},
		{&waskv1.LabelSelector{MatchExpressions: []*waskv1.LabelSelectorRequirement{{Key: "tier", Operator: "NotIn", Values: []string{"front"}}}}, false},
		{&waskv1.LabelSelector{MatchExpressions: []*waskv1.LabelSelectorRequirement{{Key: "canary", Operator: "DoesNotExist"}}}, true},
		{&waskv1.LabelSelector{MatchExpressions: []*waskv1.LabelSelectorRequirement{{Key: "canary", Operator: "Exists"}}}, false},
		{&waskv1.LabelSelector{MatchExpressions: []*waskv1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}, false},
	} {
		if got := ctrl.Selects(c.sel, labels); got != c.want {
			t.Errorf("Selects(%v) = %v, want %v", c.sel, got, c.want)
		}
	}
}

func TestSetConditionKeepsTransitionTime(t *testing.T) {
	t1, t2 := timestamppb.New(time.Unix(1, 0)), timestamppb.New(time.Unix(2, 0))
	conds := []*waskv1.Condition{{Type: "Ready", Status: "True", LastTransitionTime: t1}}
	if ctrl.SetCondition(&conds, &waskv1.Condition{Type: "Ready", Status: "True", LastTransitionTime: t2}) {
		t.Error("same status reported as a change")
	}
	if !conds[0].GetLastTransitionTime().AsTime().Equal(t1.AsTime()) {
		t.Error("transition time moved without a transition")
	}
	if !ctrl.SetCondition(&conds, &waskv1.Condition{Type: "Ready", Status: "False", LastTransitionTime: t2}) || !conds[0].GetLastTransitionTime().AsTime().Equal(t2.AsTime()) {
		t.Error("a transition was not recorded")
	}
	ctrl.SetFailure(&conds, errors.New("boom"), time.Unix(3, 0))
	if c := ctrl.Condition(conds, "ReplicaFailure"); c.GetMessage() != "boom" {
		t.Errorf("failure condition %v", c)
	}
	ctrl.SetFailure(&conds, nil, time.Unix(4, 0))
	if ctrl.Condition(conds, "ReplicaFailure") != nil || len(conds) != 1 {
		t.Errorf("failure condition not removed: %v", conds)
	}
}

func TestWritesReturnsTheHighestRevisionAndEveryError(t *testing.T) {
	rev, err := ctrl.Writes(context.Background(), 10, 3, func(_ context.Context, i int) (string, error) {
		if i == 4 {
			return "", errors.New("four failed")
		}
		return []string{"5", "12", "7", "9", "", "1", "3", "11", "2", "8"}[i], nil
	})
	if rev != "12" || err == nil || !strings.Contains(err.Error(), "four failed") {
		t.Fatalf("Writes = %q, %v", rev, err)
	}
}

func TestElectorConfigErrors(t *testing.T) {
	c := &client.Client{}
	for _, cfg := range []ctrl.ElectorConfig{
		{Identity: "a"},
		{Client: c},
		{Client: c, Identity: "a", LeaseDuration: 1500 * time.Millisecond},
		{Client: c, Identity: "a", LeaseDuration: 2 * time.Second, RenewDeadline: 2 * time.Second},
		{Client: c, Identity: "a", LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: time.Second},
	} {
		if _, err := ctrl.NewElector(cfg); err == nil {
			t.Errorf("NewElector(%+v) accepted", cfg)
		}
	}
	if _, err := ctrl.NewElector(ctrl.ElectorConfig{Client: c, Identity: "a"}); err != nil {
		t.Errorf("defaults rejected: %v", err)
	}
}

func TestSplitKey(t *testing.T) {
	for key, want := range map[string][2]string{"ns/name": {"ns", "name"}, "node-1": {"", "node-1"}} {
		if ns, name := ctrl.SplitKey(key); ns != want[0] || name != want[1] || ctrl.Key(ns, name) != key {
			t.Errorf("SplitKey(%q) = %q, %q", key, ns, name)
		}
	}
}
