package main

import (
	"bytes"
	"testing"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

func TestDescribePodGolden(t *testing.T) {
	pod := &waskv1.Pod{
		Metadata: &waskv1.ObjectMeta{Namespace: "default", Name: "echo-7d9f-abcde", CreationTimestamp: ago(5 * time.Minute),
			Labels:          map[string]string{"app": "echo", "pod-template-hash": "7d9f"},
			OwnerReferences: []*waskv1.OwnerReference{{Kind: "ReplicaSet", Name: "echo-7d9f", Controller: true}}},
		Spec: &waskv1.PodSpec{Module: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Mode: "http-reactor", NodeName: "node-1",
			Env: []*waskv1.EnvVar{{Name: "GREETING", Value: "hi"}}},
		Status: &waskv1.PodStatus{Phase: "Running", RestartCount: 1, StartTime: ago(4 * time.Minute),
			LastTermination: &waskv1.TerminationState{Reason: "Error", ExitCode: 3},
			Conditions:      []*waskv1.Condition{{Type: "PodScheduled", Status: "True"}, {Type: "Ready", Status: "True"}}},
	}
	events := []*waskv1.Event{
		{Type: "Normal", Reason: "Scheduled", Message: "Successfully assigned default/echo-7d9f-abcde to node-1", LastTimestamp: ago(5 * time.Minute), Source: &waskv1.EventSource{Component: "scheduler"}},
		{Type: "Warning", Reason: "BackOff", Message: "Back-off restarting failed module", Count: 3, FirstTimestamp: ago(4 * time.Minute), LastTimestamp: ago(30 * time.Second), Source: &waskv1.EventSource{Component: "wasmlet", Host: "node-1"}},
	}
	var buf bytes.Buffer
	if err := describe(&buf, &waskv1.Object{Kind: &waskv1.Object_Pod{Pod: pod}}, events, testNow); err != nil {
		t.Fatal(err)
	}
	golden(t, "describe-pod.txt", buf.Bytes())
}
