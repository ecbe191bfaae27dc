package replicaset_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
	"github.com/wask-dev/wask/ctrl/ctrltest"
	"github.com/wask-dev/wask/ctrl/replicaset"
	"github.com/wask-dev/wask/internal/testcluster"
)

func start(t *testing.T, cl *testcluster.Cluster, nodes ...ctrltest.NodeConfig) *ctrltest.Harness {
	return ctrltest.Start(t, cl.Client, func(n string) *client.Client { return cl.NodeClient(t, n) }, ctrltest.Options{
		Controllers: []func(*ctrl.Env) ctrl.Runnable{func(env *ctrl.Env) ctrl.Runnable { return replicaset.New(env, replicaset.Options{}) }},
		Nodes:       nodes,
		Binder:      len(nodes) > 0,
	})
}

func newRS(name string, replicas int32) *waskv1.ReplicaSet {
	labels := map[string]string{"app": name}
	return &waskv1.ReplicaSet{
		Metadata: &waskv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &waskv1.ReplicaSetSpec{
			Replicas: proto.Int32(replicas),
			Selector: &waskv1.LabelSelector{MatchLabels: labels},
			Template: ctrltest.Template(labels),
		},
	}
}

// waitRS waits until the ReplicaSet reports want replicas, all ready, and
// exactly want pods exist.
func waitRS(h *ctrltest.Harness, name string, want int32) []*waskv1.Pod {
	h.T.Helper()
	var pods []*waskv1.Pod
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		rs, err := client.Get[*waskv1.ReplicaSet](ctx, h.Admin, "default", name)
		if err != nil {
			return false, err.Error()
		}
		pods = h.Pods(ctx, "default", "app="+name)
		st := rs.GetStatus()
		return st.GetReplicas() == want && st.GetReadyReplicas() == want && st.GetAvailableReplicas() == want &&
				st.GetObservedGeneration() == rs.GetMetadata().GetGeneration() && len(pods) == int(want),
			fmt.Sprintf("status %v, %d pods", st, len(pods))
	})
	return pods
}

func TestScaleUpAndDown(t *testing.T) {
	cl := testcluster.Start(t, testcluster.Options{})
	var healed atomic.Bool // until set, web-3 never becomes ready
	h := start(t, cl, ctrltest.NodeConfig{Name: "n1", Ready: func(p *waskv1.Pod) bool { return healed.Load() || p.GetMetadata().GetName() != "web-3" }})
	ctx := h.Ctx()
	if _, err := client.Create(ctx, h.Admin, newRS("web", 5)); err != nil {
		t.Fatal(err)
	}
	// web-3 never becomes ready.
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		rs, _ := client.Get[*waskv1.ReplicaSet](ctx, h.Admin, "default", "web")
		return rs.GetStatus().GetReplicas() == 5 && rs.GetStatus().GetReadyReplicas() == 4, fmt.Sprint(rs.GetStatus())
	})
	pods := h.Pods(ctx, "default", "app=web")
	var names []string
	for _, p := range pods {
		names = append(names, p.GetMetadata().GetName())
		ref := ctrl.ControllerOf(p.GetMetadata())
		if ref.GetKind() != "ReplicaSet" || ref.GetName() != "web" || !ref.GetBlockOwnerDeletion() {
			t.Errorf("pod %s: controller ref %v", p.GetMetadata().GetName(), ref)
		}
	}
	if want := []string{"web-0", "web-1", "web-2", "web-3", "web-4"}; !slices.Equal(names, want) {
		t.Fatalf("pods %v, want %v", names, want)
	}

	// Scaling down to 4 deletes the pod that is not ready, not the newest.
	scale(t, h, "web", 4)
	healed.Store(true)
	pods = waitRS(h, "web", 4)
	for _, p := range pods {
		if p.GetMetadata().GetName() == "web-3" {
			t.Fatalf("scale down kept the not-ready pod web-3")
		}
	}
	// Up again: the free name web-3 is reused.
	scale(t, h, "web", 6)
	pods = waitRS(h, "web", 6)
	names = names[:0]
	for _, p := range pods {
		names = append(names, p.GetMetadata().GetName())
	}
	if want := []string{"web-0", "web-1", "web-2", "web-3", "web-4", "web-5"}; !slices.Equal(names, want) {
		t.Fatalf("pods %v, want %v", names, want)
	}
	scale(t, h, "web", 0)
	waitRS(h, "web", 0)
}

func scale(t *testing.T, h *ctrltest.Harness, name string, n int32) {
	t.Helper()
	for {
		rs, err := client.Get[*waskv1.ReplicaSet](h.Ctx(), h.Admin, "default", name)
		if err != nil {
			t.Fatal(err)
		}
		rs.Spec.Replicas = proto.Int32(n)
		if _, err = client.Update(h.Ctx(), h.Admin, rs); err == nil {
			return
		}
	}
}

// A second controller started after the first stopped (a restart, or a new
// leader) creates nothing: names are deterministic and it sees the pods.
func TestRestartDuplicatesNothing(t *testing.T) {
	cl := testcluster.Start(t, testcluster.Options{})
	ctx := context.Background()
	if _, err := client.Create(ctx, cl.Client, newRS("api", 20)); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		hctx, cancel := context.WithCancel(ctx)
		env := ctrl.NewEnv(cl.Client, nil, nil, nil)
		c := replicaset.New(env, replicaset.Options{Burst: 7})
		done := make(chan struct{})
		go func() {
			defer close(done)
			go func() { _ = env.Informers.Run(hctx) }()
			_ = c.Run(hctx)
		}()
		deadline := time.Now().Add(10 * time.Second)
		for {
			pods, _, err := client.List[*waskv1.Pod](ctx, cl.Client, client.ListOptions{Namespace: "default"})
			if err != nil {
				t.Fatal(err)
			}
			if len(pods) > 20 {
				t.Fatalf("round %d: %d pods, want 20", round, len(pods))
			}
			// Stop the first controller part way through.
			if (round == 0 && len(pods) >= 7) || len(pods) == 20 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d pods after 10s", round, len(pods))
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
	}
	pods, _, _ := client.List[*waskv1.Pod](ctx, cl.Client, client.ListOptions{Namespace: "default"})
	if len(pods) != 20 {
		t.Fatalf("%d pods, want 20", len(pods))
	}
}

func TestScaleDownOrder(t *testing.T) {
	now := time.Unix(1000, 0)
	mk := func(name, node, phase string, ready bool, created int64) *waskv1.Pod {
		p := &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: name}, Spec: &waskv1.PodSpec{NodeName: node}, Status: &waskv1.PodStatus{Phase: phase}}
		p.Metadata.CreationTimestamp = timestamp(created)
		if ready {
			p.Status.Conditions = []*waskv1.Condition{{Type: "Ready", Status: "True", LastTransitionTime: timestamp(created + 1)}}
		}
		return p
	}
	pods := []*waskv1.Pod{
		mk("old-ready", "n", "Running", true, 1),
		mk("new-ready", "n", "Running", true, 5),
		mk("running-not-ready", "n", "Running", false, 1),
		mk("pending", "n", "Pending", false, 1),
		mk("unbound", "", "Pending", false, 1),
	}
	var got []string
	for _, p := range replicaset.ScaleDownOrder(pods, now) {
		got = append(got, p.GetMetadata().GetName())
	}
	if want := []string{"unbound", "pending", "running-not-ready", "new-ready", "old-ready"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}
