package gc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
	"github.com/wask-dev/wask/ctrl/ctrltest"
	"github.com/wask-dev/wask/ctrl/deployment"
	"github.com/wask-dev/wask/ctrl/gc"
	"github.com/wask-dev/wask/ctrl/replicaset"
	"github.com/wask-dev/wask/internal/testcluster"
)

func start(t *testing.T, withWorkloads bool, nodes ...ctrltest.NodeConfig) *ctrltest.Harness {
	cl := testcluster.Start(t, testcluster.Options{})
	ctrls := []func(*ctrl.Env) ctrl.Runnable{func(env *ctrl.Env) ctrl.Runnable { return gc.New(env, gc.Options{}) }}
	if withWorkloads {
		ctrls = append(ctrls,
			func(env *ctrl.Env) ctrl.Runnable { return replicaset.New(env, replicaset.Options{}) },
			func(env *ctrl.Env) ctrl.Runnable { return deployment.New(env, deployment.Options{}) })
	}
	return ctrltest.Start(t, cl.Client, func(n string) *client.Client { return cl.NodeClient(t, n) }, ctrltest.Options{
		Controllers: ctrls, Nodes: nodes, Binder: len(nodes) > 0,
	})
}

func count[T proto.Message](t *testing.T, h *ctrltest.Harness, selector string) int {
	t.Helper()
	items, _, err := client.List[T](h.Ctx(), h.Admin, client.ListOptions{Namespace: "default", LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	return len(items)
}

func deploy(t *testing.T, h *ctrltest.Harness, name string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": name}
	if _, err := client.Create(h.Ctx(), h.Admin, &waskv1.Deployment{
		Metadata: &waskv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:     &waskv1.DeploymentSpec{Replicas: proto.Int32(replicas), Selector: &waskv1.LabelSelector{MatchLabels: labels}, Template: ctrltest.Template(labels)},
	}); err != nil {
		t.Fatal(err)
	}
	h.Eventually(10*time.Second, func(context.Context) (bool, string) {
		n := 0
		for _, p := range h.Pods(h.Ctx(), "default", "app="+name) {
			if ctrl.PodReady(p) {
				n++
			}
		}
		return n == int(replicas), fmt.Sprintf("%d ready pods", n)
	})
}

func del(t *testing.T, h *ctrltest.Harness, kind, name, policy string) {
	t.Helper()
	if _, err := h.Admin.Objects.Delete(h.Ctx(), connect.NewRequest(&waskv1.DeleteRequest{Kind: kind, Namespace: "default", Name: name, PropagationPolicy: policy})); err != nil {
		t.Fatal(err)
	}
}

func TestBackgroundCascade(t *testing.T) {
	h := start(t, true, ctrltest.NodeConfig{Name: "n1"})
	deploy(t, h, "web", 3)
	del(t, h, "Deployment", "web", "")
	h.Eventually(10*time.Second, func(context.Context) (bool, string) {
		rs, pods := count[*waskv1.ReplicaSet](t, h, "app=web"), count[*waskv1.Pod](t, h, "app=web")
		return rs == 0 && pods == 0, fmt.Sprintf("%d replicasets, %d pods left", rs, pods)
	})
}

func TestForegroundWaitsForDependents(t *testing.T) {
	h := start(t, true, ctrltest.NodeConfig{Name: "n1", StopDelay: 500 * time.Millisecond})
	deploy(t, h, "web", 3)
	del(t, h, "Deployment", "web", "Foreground")
	// The pods take 500 ms to stop: meanwhile the deployment is still there.
	d, err := client.Get[*waskv1.Deployment](h.Ctx(), h.Admin, "default", "web")
	if err != nil || d.GetMetadata().GetDeletionTimestamp() == nil {
		t.Fatalf("deployment right after a foreground delete: %v, %v", d.GetMetadata(), err)
	}
	h.Eventually(10*time.Second, func(context.Context) (bool, string) {
		deps, pods := count[*waskv1.Deployment](t, h, ""), count[*waskv1.Pod](t, h, "app=web")
		if deps == 0 && pods > 0 {
			t.Fatalf("deployment gone while %d pods remain", pods)
		}
		return deps == 0 && pods == 0, fmt.Sprintf("%d deployments, %d pods", deps, pods)
	})
}

func TestOrphanKeepsDependents(t *testing.T) {
	h := start(t, true, ctrltest.NodeConfig{Name: "n1"})
	deploy(t, h, "web", 2)
	rss, _, _ := client.List[*waskv1.ReplicaSet](h.Ctx(), h.Admin, client.ListOptions{Namespace: "default"})
	if len(rss) != 1 {
		t.Fatalf("%d replicasets", len(rss))
	}
	del(t, h, "ReplicaSet", rss[0].GetMetadata().GetName(), "Orphan")
	// Gone: absent, or already re-created by the deployment under the same
	// (deterministic) name with a new uid.
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		rs, err := client.Get[*waskv1.ReplicaSet](ctx, h.Admin, "default", rss[0].GetMetadata().GetName())
		return connect.CodeOf(err) == connect.CodeNotFound || (err == nil && rs.GetMetadata().GetUid() != rss[0].GetMetadata().GetUid()), fmt.Sprint(rs.GetMetadata(), err)
	})
	// The pods stay, without the deleted owner (the deployment then makes
	// a new ReplicaSet of the same name, which does not own them).
	pods := h.Pods(h.Ctx(), "default", "app=web")
	if len(pods) < 2 {
		t.Fatalf("%d pods after an orphaning delete, want the 2 orphans", len(pods))
	}
	for _, p := range pods {
		for _, r := range p.GetMetadata().GetOwnerReferences() {
			if r.GetUid() == rss[0].GetMetadata().GetUid() {
				t.Fatalf("pod %s still names the deleted owner", p.GetMetadata().GetName())
			}
		}
	}
}

func TestDanglingReferences(t *testing.T) {
	h := start(t, false)
	svc, err := client.Create(h.Ctx(), h.Admin, &waskv1.Service{Metadata: &waskv1.ObjectMeta{Name: "owner", Namespace: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	live := &waskv1.OwnerReference{Kind: "Service", Name: "owner", Uid: svc.GetMetadata().GetUid()}
	gone := &waskv1.OwnerReference{Kind: "Service", Name: "ghost", Uid: "no-such-uid"}
	tmpl := ctrltest.Template(map[string]string{"app": "x"})
	mk := func(name string, refs ...*waskv1.OwnerReference) {
		if _, err := client.Create(h.Ctx(), h.Admin, &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: name, Namespace: "default", OwnerReferences: refs}, Spec: tmpl.GetSpec()}); err != nil {
			t.Fatal(err)
		}
	}
	mk("both", live, gone)
	mk("orphaned", gone)
	mk("owned", live)
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		pods := h.Pods(ctx, "default", "")
		state := map[string]int{}
		for _, p := range pods {
			state[p.GetMetadata().GetName()] = len(p.GetMetadata().GetOwnerReferences())
		}
		_, orphaned := state["orphaned"]
		return !orphaned && state["both"] == 1 && state["owned"] == 1 && len(state) == 2, fmt.Sprint(state)
	})
	// Deleting the owner collects the rest.
	del(t, h, "Service", "owner", "")
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		n := len(h.Pods(ctx, "default", ""))
		return n == 0, fmt.Sprintf("%d pods", n)
	})
}
