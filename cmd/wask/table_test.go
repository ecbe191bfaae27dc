package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

var update = flag.Bool("update", false, "rewrite golden files")

var testNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(testNow.Add(-d)) }

func ptr[T any](v T) *T { return &v }

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-golden +got):\n%s", name, diff)
	}
}

func meta(ns, name string, age time.Duration) *waskv1.ObjectMeta {
	return &waskv1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: ago(age)}
}

func TestGetTables(t *testing.T) {
	pods := []*waskv1.Object{
		{Kind: &waskv1.Object_Pod{Pod: &waskv1.Pod{Metadata: meta("default", "echo-7d9f-abcde", 95*time.Second),
			Spec:   &waskv1.PodSpec{Module: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Mode: "http-reactor", NodeName: "node-1"},
			Status: &waskv1.PodStatus{Phase: "Running", RestartCount: 2, Conditions: []*waskv1.Condition{{Type: "Ready", Status: "True"}}}}}},
		{Kind: &waskv1.Object_Pod{Pod: &waskv1.Pod{Metadata: meta("default", "job-x", 3*time.Hour+4*time.Minute),
			Spec:   &waskv1.PodSpec{Module: "hello", Mode: "command"},
			Status: &waskv1.PodStatus{Phase: "Pending", Reason: "Unschedulable"}}}},
		{Kind: &waskv1.Object_Pod{Pod: &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Namespace: "kube", Name: "old", CreationTimestamp: ago(400 * 24 * time.Hour), DeletionTimestamp: ago(time.Second)},
			Spec:   &waskv1.PodSpec{Module: "m", Mode: "command", NodeName: "node-2"},
			Status: &waskv1.PodStatus{Phase: "Succeeded"}}}},
	}
	deploys := []*waskv1.Object{
		{Kind: &waskv1.Object_Deployment{Deployment: &waskv1.Deployment{Metadata: meta("default", "echo", 10*time.Minute),
			Spec:   &waskv1.DeploymentSpec{Replicas: ptr[int32](3), Selector: &waskv1.LabelSelector{MatchLabels: map[string]string{"app": "echo"}}},
			Status: &waskv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2}}}},
	}
	nodes := []*waskv1.Object{
		{Kind: &waskv1.Object_Node{Node: &waskv1.Node{Metadata: meta("", "node-1", 50*time.Hour),
			Status: &waskv1.NodeStatus{Conditions: []*waskv1.Condition{{Type: "Ready", Status: "True"}}, NodeInfo: &waskv1.NodeInfo{Version: "v0.1.0"},
				Allocatable:  map[string]string{"memory": "8Gi", "pods": "1000"},
				Capabilities: &waskv1.NodeCapabilities{Modes: []string{"command", "http-cgi", "http-reactor"}}}}}},
		{Kind: &waskv1.Object_Node{Node: &waskv1.Node{Metadata: meta("", "node-2", 5*24*time.Hour+3*time.Hour), Spec: &waskv1.NodeSpec{Unschedulable: true}}}},
	}
	services := []*waskv1.Object{
		{Kind: &waskv1.Object_Service{Service: &waskv1.Service{Metadata: meta("default", "echo", time.Minute),
			Spec: &waskv1.ServiceSpec{Selector: map[string]string{"app": "echo", "tier": "web"}}}}},
	}
	var buf bytes.Buffer
	for _, tc := range []struct {
		kind      string
		objs      []*waskv1.Object
		allNS     bool
		wide      bool
		separator string
	}{
		{"Pod", pods, false, false, "pods"},
		{"Pod", pods, true, true, "pods -A -o wide"},
		{"Deployment", deploys, false, true, "deployments -o wide"},
		{"Node", nodes, false, false, "nodes"},
		{"Service", services, false, false, "services"},
	} {
		buf.WriteString("$ wask get " + tc.separator + "\n")
		if err := buildTable(tc.kind, tc.objs, tc.allNS, tc.wide, testNow).write(&buf); err != nil {
			t.Fatal(err)
		}
		buf.WriteString("\n")
	}
	golden(t, "get-tables.txt", buf.Bytes())
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                             "0s",
		90 * time.Second:              "90s",
		5*time.Minute + 3*time.Second: "5m3s",
		47 * time.Minute:              "47m",
		5*time.Hour + 3*time.Minute:   "5h3m",
		12 * time.Hour:                "12h",
		76 * time.Hour:                "3d4h",
		15 * 24 * time.Hour:           "15d",
		(2*365 + 30) * 24 * time.Hour: "2y30d",
		-time.Second:                  "0s",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
