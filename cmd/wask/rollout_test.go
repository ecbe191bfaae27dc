package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl/ctrltest"
	"github.com/wask-dev/wask/internal/token"
)

const deploymentManifest = `apiVersion: wask.dev/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 3
  progressDeadlineSeconds: 1
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: web}}
    spec:
      module: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
      mode: http-reactor
      env: [{name: VERSION, value: v1}]
`

// simulateNode runs, against the cluster of c, a simulated node (pods with
// VERSION=broken never become ready) and a stand-in scheduler, until the
// test ends.
func simulateNode(t *testing.T, c cli) {
	dir := filepath.Dir(c.config)
	cfg, err := client.LoadConfig(c.config)
	if err != nil {
		t.Fatal(err)
	}
	joinStr, err := token.ReadFile(filepath.Join(dir, "node-token"))
	if err != nil {
		t.Fatal(err)
	}
	join, err := token.ParseJoin(joinStr)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nodeCfg := cfg
	nodeCfg.Token, nodeCfg.NodeName = join.Secret, "n1"
	nodeClient, err := client.New(nodeCfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	if err := ctrltest.Prepare(ctx, admin); err != nil {
		t.Fatal(err)
	}
	node := ctrltest.NewNode(ctrltest.NodeConfig{Name: "n1", Client: nodeClient, Ready: func(p *waskv1.Pod) bool {
		for _, e := range p.GetSpec().GetEnv() {
			if e.GetValue() == "broken" {
				return false
			}
		}
		return true
	}})
	wg.Go(func() { _ = node.Run(ctx) })
	wg.Go(func() { _ = (&ctrltest.Binder{Client: admin}).Run(ctx) })
}

func TestRolloutScaleHistoryUndo(t *testing.T) {
	c := startUp(t, "--no-scheduler", "--no-node")
	simulateNode(t, c)
	c.ok(deploymentManifest, "apply", "-f", "-")
	if out := c.ok("", "rollout", "status", "deployment/web"); !strings.HasSuffix(out, "deployment \"web\" successfully rolled out\n") {
		t.Fatalf("rollout status:\n%s", out)
	}
	// The endpoints controller of `wask up` lists the ready pods.
	c.ok("apiVersion: wask.dev/v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}}\n", "apply", "-f", "-")
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _, _ := c.run("", "get", "endpoints", "web", "-o", "json")
		compact := strings.Join(strings.Fields(out), "")
		if strings.Count(compact, `"nodeName":"n1"`) == 3 && strings.Count(compact, `"ready":true`) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("endpoints of web:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := c.ok("", "scale", "deployment/web", "--replicas", "5"); out != "deployments/web scaled to 5\n" {
		t.Fatalf("scale: %q", out)
	}
	c.ok("", "rollout", "status", "deployment/web")
	if out := c.ok("", "get", "deploy", "web"); !strings.Contains(out, "5/5") {
		t.Fatalf("after scale:\n%s", out)
	}
	c.ok(strings.Replace(deploymentManifest, "value: v1", "value: v2", 1), "apply", "-f", "-")
	c.ok("", "rollout", "status", "deployment/web")
	h := c.ok("", "rollout", "history", "deployment/web")
	lines := strings.Split(strings.TrimSpace(h), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "REVISION") || !strings.HasPrefix(lines[1], "1 ") || !strings.HasPrefix(lines[2], "2 ") || !strings.Contains(lines[2], "*") {
		t.Fatalf("history:\n%s", h)
	}
	// A rollout that never becomes ready: status fails at the deadline.
	c.ok(strings.Replace(deploymentManifest, "value: v1", "value: broken", 1), "apply", "-f", "-")
	out, errs, code := c.run("", "rollout", "status", "deployment/web")
	if code != 1 || !strings.Contains(out, "exceeded its progress deadline") {
		t.Fatalf("rollout status of a stuck rollout: exit %d\n%s%s", code, out, errs)
	}
	if out := c.ok("", "rollout", "undo", "deployment/web"); out != "deployment.wask.dev/web rolled back to revision 2\n" {
		t.Fatalf("undo: %q", out)
	}
	c.ok("", "rollout", "status", "deployment/web")
	h = c.ok("", "rollout", "history", "deployment/web")
	if !strings.Contains(h, "\n4 ") || !strings.Contains(strings.Split(h, "\n4 ")[1], "*") {
		t.Fatalf("history after undo should have revision 4 current:\n%s", h)
	}
	if out, errs, code := c.run("", "rollout", "undo", "deployment/web", "--to-revision", "99"); code != 1 || !strings.Contains(errs, "no revision 99") {
		t.Fatalf("undo to a missing revision: exit %d %s%s", code, out, errs)
	}
	if _, errs, code := c.run("", "scale", "pod/x", "--replicas", "1"); code != 2 || !strings.Contains(errs, "cannot scale") {
		t.Fatalf("scale of a pod: exit %d %s", code, errs)
	}
}
