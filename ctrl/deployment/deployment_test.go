package deployment_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
	"github.com/wask-dev/wask/ctrl/ctrltest"
	"github.com/wask-dev/wask/ctrl/deployment"
	"github.com/wask-dev/wask/ctrl/replicaset"
	"github.com/wask-dev/wask/internal/testcluster"
)

func start(t *testing.T, nodes ...ctrltest.NodeConfig) *ctrltest.Harness {
	cl := testcluster.Start(t, testcluster.Options{})
	return ctrltest.Start(t, cl.Client, func(n string) *client.Client { return cl.NodeClient(t, n) }, ctrltest.Options{
		Controllers: []func(*ctrl.Env) ctrl.Runnable{
			func(env *ctrl.Env) ctrl.Runnable { return replicaset.New(env, replicaset.Options{}) },
			func(env *ctrl.Env) ctrl.Runnable { return deployment.New(env, deployment.Options{}) },
		},
		Nodes:  nodes,
		Binder: true,
	})
}

func newDeployment(name string, replicas int32) *waskv1.Deployment {
	labels := map[string]string{"app": name}
	return &waskv1.Deployment{
		Metadata: &waskv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &waskv1.DeploymentSpec{
			Replicas: proto.Int32(replicas),
			Selector: &waskv1.LabelSelector{MatchLabels: labels},
			Template: ctrltest.Template(labels),
		},
	}
}

// update changes a deployment, retrying on conflicts.
func update(t testing.TB, h *ctrltest.Harness, name string, change func(d *waskv1.Deployment)) {
	t.Helper()
	for {
		d, err := client.Get[*waskv1.Deployment](h.Ctx(), h.Admin, "default", name)
		if err != nil {
			t.Fatal(err)
		}
		change(d)
		if _, err = client.Update(h.Ctx(), h.Admin, d); err == nil {
			return
		}
	}
}

func setEnv(value string) func(d *waskv1.Deployment) {
	return func(d *waskv1.Deployment) {
		d.Spec.Template.Spec.Env = []*waskv1.EnvVar{{Name: "VERSION", Value: value}}
	}
}

// waitComplete waits until the deployment's rollout of its current
// template is complete, and returns it.
func waitComplete(h *ctrltest.Harness, name string) *waskv1.Deployment {
	h.T.Helper()
	var d *waskv1.Deployment
	h.Eventually(20*time.Second, func(ctx context.Context) (bool, string) {
		var err error
		if d, err = client.Get[*waskv1.Deployment](ctx, h.Admin, "default", name); err != nil {
			return false, err.Error()
		}
		st := d.GetStatus()
		want := d.GetSpec().GetReplicas()
		c := ctrl.Condition(st.GetConditions(), "Progressing")
		return st.GetObservedGeneration() == d.GetMetadata().GetGeneration() && st.GetUpdatedReplicas() == want &&
			st.GetReplicas() == want && st.GetAvailableReplicas() == want && c.GetReason() == "NewReplicaSetAvailable", fmt.Sprint(st)
	})
	return d
}

// readyMonitor follows the ready, non-terminating pods of app and records
// the fewest seen.
type readyMonitor struct {
	mu     sync.Mutex
	min    int
	events int
}

func monitorReady(t *testing.T, h *ctrltest.Harness, app string) *readyMonitor {
	m := &readyMonitor{min: 1 << 30}
	inf, err := client.NewInformer(h.Admin, client.InformerOptions{Kind: "Pod", Namespace: "default", LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	check := func(*waskv1.Object) {
		n := 0
		for _, o := range inf.List() {
			if p := o.GetPod(); ctrl.PodReady(p) && !ctrl.Terminating(p.GetMetadata()) {
				n++
			}
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if inf.HasSynced() {
			m.min = min(m.min, n)
			m.events++
		}
	}
	inf.AddHandler(client.Handler{OnAdd: check, OnUpdate: func(_, o *waskv1.Object) { check(o) }, OnDelete: check})
	ctx, cancel := context.WithCancel(h.Ctx())
	done := make(chan struct{})
	go func() { defer close(done); _ = inf.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := inf.WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *readyMonitor) result() (minReady, events int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.min, m.events
}

func replicaSets(t *testing.T, h *ctrltest.Harness) map[string]*waskv1.ReplicaSet {
	t.Helper()
	rss, _, err := client.List[*waskv1.ReplicaSet](h.Ctx(), h.Admin, client.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*waskv1.ReplicaSet{}
	for _, rs := range rss {
		out[rs.GetMetadata().GetAnnotations()[deployment.RevisionAnnotation]] = rs
	}
	return out
}

func TestRollingUpdateKeepsMinimumReady(t *testing.T) {
	h := start(t, ctrltest.NodeConfig{Name: "n1"}, ctrltest.NodeConfig{Name: "n2"})
	d := newDeployment("web", 10)
	d.Spec.Strategy = &waskv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &waskv1.RollingUpdateDeployment{MaxSurge: "3", MaxUnavailable: "2"}}
	if _, err := client.Create(h.Ctx(), h.Admin, d); err != nil {
		t.Fatal(err)
	}
	waitComplete(h, "web")
	m := monitorReady(t, h, "web")
	update(t, h, "web", setEnv("v2"))
	got := waitComplete(h, "web")
	minReady, events := m.result()
	if minReady < 8 {
		t.Fatalf("ready pods fell to %d during the rollout, below replicas-maxUnavailable = 8", minReady)
	}
	if events < 20 {
		t.Fatalf("monitor saw only %d pod changes: did the rollout happen?", events)
	}
	t.Logf("fewest ready pods during the rollout: %d (of 10, maxUnavailable 2), over %d pod changes", minReady, events)
	hash := deployment.TemplateHash(got.GetSpec().GetTemplate(), 0)
	for _, p := range h.Pods(h.Ctx(), "default", "app=web") {
		if p.GetMetadata().GetLabels()[deployment.HashLabel] != hash {
			t.Errorf("pod %s is of an old template", p.GetMetadata().GetName())
		}
	}
	rss := replicaSets(t, h)
	if len(rss) != 2 || rss["1"].GetSpec().GetReplicas() != 0 || rss["2"].GetSpec().GetReplicas() != 10 || rss["2"].GetMetadata().GetName() != "web-"+hash {
		t.Fatalf("replicasets by revision: %v", rss)
	}
}

func TestStuckRolloutReportsAndUndoRestores(t *testing.T) {
	h := start(t, ctrltest.NodeConfig{Name: "n1", Ready: func(p *waskv1.Pod) bool {
		for _, e := range p.GetSpec().GetEnv() {
			if e.GetValue() == "broken" {
				return false
			}
		}
		return true
	}})
	d := newDeployment("api", 4)
	d.Spec.ProgressDeadlineSeconds = proto.Int32(1)
	d.Spec.Strategy = &waskv1.DeploymentStrategy{RollingUpdate: &waskv1.RollingUpdateDeployment{MaxSurge: "1", MaxUnavailable: "0"}}
	if _, err := client.Create(h.Ctx(), h.Admin, d); err != nil {
		t.Fatal(err)
	}
	waitComplete(h, "api")
	update(t, h, "api", setEnv("broken"))
	h.Eventually(20*time.Second, func(ctx context.Context) (bool, string) {
		d, _ := client.Get[*waskv1.Deployment](ctx, h.Admin, "default", "api")
		c := ctrl.Condition(d.GetStatus().GetConditions(), "Progressing")
		return c.GetStatus() == "False" && c.GetReason() == "ProgressDeadlineExceeded", fmt.Sprint(c)
	})
	// maxUnavailable 0: the old pods all still serve.
	ready := 0
	for _, p := range h.Pods(h.Ctx(), "default", "app=api") {
		if ctrl.PodReady(p) {
			ready++
		}
	}
	if ready != 4 {
		t.Fatalf("%d ready pods while stuck, want 4", ready)
	}
	// Undo: what `wask rollout undo` does.
	rss := replicaSets(t, h)
	update(t, h, "api", func(d *waskv1.Deployment) { d.Spec.Template = deployment.StripHash(rss["1"].GetSpec().GetTemplate()) })
	waitComplete(h, "api")
	rss = replicaSets(t, h)
	if rs := rss["3"]; rs == nil || rs.GetSpec().GetReplicas() != 4 || len(rs.GetSpec().GetTemplate().GetSpec().GetEnv()) != 0 {
		t.Fatalf("after undo, revision 3 should be the first template with 4 replicas: %v", rss)
	}
	if rs := rss["2"]; rs == nil || rs.GetSpec().GetReplicas() != 0 {
		t.Fatalf("the broken revision 2 should be scaled to 0: %v", rss)
	}
}

func TestRecreateStopsOldPodsFirst(t *testing.T) {
	h := start(t, ctrltest.NodeConfig{Name: "n1", StopDelay: 200 * time.Millisecond})
	d := newDeployment("batch", 3)
	d.Spec.Strategy = &waskv1.DeploymentStrategy{Type: "Recreate"}
	if _, err := client.Create(h.Ctx(), h.Admin, d); err != nil {
		t.Fatal(err)
	}
	first := waitComplete(h, "batch")
	oldHash := deployment.TemplateHash(first.GetSpec().GetTemplate(), 0)
	var mu sync.Mutex
	overlap := false
	inf, _ := client.NewInformer(h.Admin, client.InformerOptions{Kind: "Pod", Namespace: "default"})
	inf.AddHandler(client.Handler{OnAdd: func(o *waskv1.Object) {
		if o.Metadata().GetLabels()[deployment.HashLabel] == oldHash {
			return
		}
		for _, other := range inf.List() {
			if other.Metadata().GetLabels()[deployment.HashLabel] == oldHash {
				mu.Lock()
				overlap = true
				mu.Unlock()
			}
		}
	}})
	ctx, cancel := context.WithCancel(h.Ctx())
	done := make(chan struct{})
	go func() { defer close(done); _ = inf.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := inf.WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	update(t, h, "batch", setEnv("v2"))
	waitComplete(h, "batch")
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Fatal("a new pod was created while an old one still existed")
	}
}

func TestRevisionHistoryLimit(t *testing.T) {
	h := start(t, ctrltest.NodeConfig{Name: "n1"})
	d := newDeployment("hist", 1)
	d.Spec.RevisionHistoryLimit = proto.Int32(1)
	if _, err := client.Create(h.Ctx(), h.Admin, d); err != nil {
		t.Fatal(err)
	}
	waitComplete(h, "hist")
	for _, v := range []string{"v2", "v3", "v4"} {
		update(t, h, "hist", setEnv(v))
		waitComplete(h, "hist")
	}
	h.Eventually(10*time.Second, func(context.Context) (bool, string) {
		rss := replicaSets(t, h)
		return len(rss) == 2 && rss["4"] != nil && rss["3"] != nil, fmt.Sprint(len(rss), " replicasets")
	})
}

func TestScaleAndBounds(t *testing.T) {
	for _, c := range []struct {
		surge, unavail string
		replicas       int32
		wantS, wantU   int32
	}{
		{"", "", 10, 3, 2},
		{"25%", "25%", 1, 1, 0},
		{"0", "0%", 3, 0, 1},
		{"1", "0", 4, 1, 0},
		{"50%", "50%", 3, 2, 1},
	} {
		d := newDeployment("x", c.replicas)
		d.Spec.Strategy = &waskv1.DeploymentStrategy{RollingUpdate: &waskv1.RollingUpdateDeployment{MaxSurge: c.surge, MaxUnavailable: c.unavail}}
		s, u, err := deployment.Bounds(d)
		if err != nil || s != c.wantS || u != c.wantU {
			t.Errorf("Bounds(%q, %q, %d) = %d, %d, %v; want %d, %d", c.surge, c.unavail, c.replicas, s, u, err, c.wantS, c.wantU)
		}
	}
}

func TestPausedDeploymentScalesButDoesNotRollOut(t *testing.T) {
	h := start(t, ctrltest.NodeConfig{Name: "n1"})
	if _, err := client.Create(h.Ctx(), h.Admin, newDeployment("p", 2)); err != nil {
		t.Fatal(err)
	}
	first := waitComplete(h, "p")
	update(t, h, "p", func(d *waskv1.Deployment) {
		d.Spec.Paused = true
		d.Spec.Replicas = proto.Int32(4)
		d.Spec.Template.Spec.Env = []*waskv1.EnvVar{{Name: "VERSION", Value: "v2"}}
	})
	hash := deployment.TemplateHash(first.GetSpec().GetTemplate(), 0)
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		pods := h.Pods(ctx, "default", "app=p")
		for _, p := range pods {
			if p.GetMetadata().GetLabels()[deployment.HashLabel] != hash {
				return false, "a pod of the new template while paused"
			}
		}
		d, _ := client.Get[*waskv1.Deployment](ctx, h.Admin, "default", "p")
		c := ctrl.Condition(d.GetStatus().GetConditions(), "Progressing")
		return len(pods) == 4 && c.GetReason() == "DeploymentPaused", fmt.Sprint(len(pods), " pods ", c)
	})
	if rss := replicaSets(t, h); len(rss) != 1 {
		t.Fatalf("%d replicasets while paused, want 1", len(rss))
	}
	update(t, h, "p", func(d *waskv1.Deployment) { d.Spec.Paused = false })
	waitComplete(h, "p")
	if rss := replicaSets(t, h); len(rss) != 2 {
		t.Fatalf("%d replicasets after resuming, want 2", len(rss))
	}
}
