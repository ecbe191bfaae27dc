package nodelifecycle_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
	"github.com/wask-dev/wask/ctrl/ctrltest"
	"github.com/wask-dev/wask/ctrl/nodelifecycle"
	"github.com/wask-dev/wask/ctrl/replicaset"
	"github.com/wask-dev/wask/internal/testcluster"
)

// BenchmarkNodeKill measures, with the default timings (lease grace 3 s,
// toleration 2 s) and simulated nodes renewing every second, the time from
// a node's crash until the 30 pods of a ReplicaSet are Ready again on the
// other nodes. Each iteration kills one of three nodes and adds a fresh
// one. Simulated nodes report a pod Ready at once; with real wasmlets the
// start of the sandboxes adds to this.
func BenchmarkNodeKill(b *testing.B) {
	cl := testcluster.Start(b, testcluster.Options{})
	h := ctrltest.Start(b, cl.Client, func(n string) *client.Client { return cl.NodeClient(b, n) }, ctrltest.Options{
		Controllers: []func(*ctrl.Env) ctrl.Runnable{
			func(env *ctrl.Env) ctrl.Runnable { return nodelifecycle.New(env, nodelifecycle.Options{}) },
			func(env *ctrl.Env) ctrl.Runnable { return replicaset.New(env, replicaset.Options{}) },
		},
		Nodes:  []ctrltest.NodeConfig{{Name: "n0", RenewInterval: time.Second}, {Name: "n1", RenewInterval: time.Second}, {Name: "n2", RenewInterval: time.Second}},
		Binder: true,
	})
	labels := map[string]string{"app": "web"}
	if _, err := client.Create(h.Ctx(), h.Admin, &waskv1.ReplicaSet{
		Metadata: &waskv1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:     &waskv1.ReplicaSetSpec{Replicas: proto.Int32(30), Selector: &waskv1.LabelSelector{MatchLabels: labels}, Template: ctrltest.Template(labels)},
	}); err != nil {
		b.Fatal(err)
	}
	live := []string{"n0", "n1", "n2"}
	readyOn := func(ctx context.Context) map[string]int {
		on := map[string]int{}
		pods, _, _ := client.List[*waskv1.Pod](ctx, h.Admin, client.ListOptions{Namespace: "default", LabelSelector: "app=web"})
		for _, p := range pods {
			if ctrl.PodReady(p) && !ctrl.Terminating(p.GetMetadata()) {
				on[p.GetSpec().GetNodeName()]++
			}
		}
		return on
	}
	var times []time.Duration
	next := 3
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		var victim string
		h.Eventually(30*time.Second, func(ctx context.Context) (bool, string) {
			on := readyOn(ctx)
			total := 0
			for _, n := range live {
				total += on[n]
				if victim == "" || on[n] > on[victim] {
					victim = n
				}
			}
			return total == 30 && on[victim] > 0, fmt.Sprint(on)
		})
		b.StartTimer()
		start := time.Now()
		h.KillNode(victim)
		live = slices.DeleteFunc(live, func(n string) bool { return n == victim })
		h.Eventually(30*time.Second, func(ctx context.Context) (bool, string) {
			on := readyOn(ctx)
			total := 0
			for _, n := range live {
				total += on[n]
			}
			return total == 30, fmt.Sprint(on)
		})
		times = append(times, time.Since(start))
		b.StopTimer()
		// The operator removes the dead machine (else dead nodes pile up
		// and soon count as a partition).
		if _, err := ctrl.Delete(h.Ctx(), h.Admin, "Node", "", victim, ctrl.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("n%d", next)
		next++
		h.AddNode(ctrltest.NodeConfig{Name: name, RenewInterval: time.Second})
		live = append(live, name)
		b.StartTimer()
	}
	slices.Sort(times)
	b.ReportMetric(times[len(times)/2].Seconds(), "s-p50")
	b.ReportMetric(times[len(times)-1].Seconds(), "s-max")
}
