package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

// TestSchedulerInUp checks that `wask up` runs the scheduler: a pod too
// big for both nodes (wask up's own and a simulated one) stays Pending, and `wask describe pod`
// shows why in its PodScheduled condition and a FailedScheduling event;
// a pod that fits is bound.
func TestSchedulerInUp(t *testing.T) {
	c := startUp(t)
	wasm := sampleWasm(t, "tiny")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	c.ok("", "push", filepath.Join(dir, "app.wasm"), "--name", "app")

	cfg, err := client.LoadConfig(c.config)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// A simulated node, as a wasmlet would register it.
	n, err := client.Create(ctx, cl, &waskv1.Node{Metadata: &waskv1.ObjectMeta{Name: "node-1"}})
	if err != nil {
		t.Fatal(err)
	}
	var mod *waskv1.Module
	if mod, err = client.Get[*waskv1.Module](ctx, cl, "", "app"); err != nil {
		t.Fatal(err)
	}
	n.Status = &waskv1.NodeStatus{
		Allocatable:  map[string]string{"memory": "64Mi", "cpu": "1", "pods": "10"},
		Capabilities: &waskv1.NodeCapabilities{HostModules: mod.GetStatus().GetHostModules(), Modes: mod.GetStatus().GetModes()},
		Conditions:   []*waskv1.Condition{{Type: "Ready", Status: "True"}},
	}
	if _, err := client.UpdateStatus(ctx, cl, n); err != nil {
		t.Fatal(err)
	}
	mode := mod.GetStatus().GetModes()[0]
	manifest := func(name, memory string) string {
		return "apiVersion: wask.dev/v1\nkind: Pod\nmetadata: {name: " + name + "}\nspec:\n  module: app\n  mode: " + mode +
			"\n  resources: {requests: {memory: " + memory + "}}\n"
	}
	c.ok(manifest("big", "1Ti"), "apply", "-f", "-")
	c.ok(manifest("small", "16Mi"), "apply", "-f", "-")

	want := "0/2 nodes are available: 2 insufficient memory."
	deadline := time.Now().Add(20 * time.Second)
	for {
		d := c.ok("", "describe", "pod", "big")
		if strings.Contains(d, "PodScheduled  False   Unschedulable  "+want) && strings.Contains(d, "Warning  FailedScheduling  ") &&
			strings.Contains(d, "scheduler  "+want) && strings.Contains(d, "Status:       Pending") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("describe pod big does not explain why it is pending:\n%s", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		out := c.ok("", "get", "pod", "small", "-o", "yaml")
		if strings.Contains(out, "nodeName: ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod small not bound:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The scheduler's metrics are on the apiserver's /metrics.
	ca, err := os.ReadFile(cfg.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get(cfg.Server + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`wask_scheduler_schedule_attempts_total{result="unschedulable"}`, "wask_scheduler_pods_bound_total 1", `wask_scheduler_pending_pods{queue="unschedulable"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
