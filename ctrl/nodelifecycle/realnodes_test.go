package nodelifecycle_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	"github.com/wask-dev/wask/internal/testsched"
)

// realCluster is a control plane (apiserver, scheduler, nodelifecycle and
// replicaset controllers, default timings) with real wasmlets, running a
// ReplicaSet of `tiny` reactor pods.
type realCluster struct {
	cl    *testcluster.Cluster
	h     *ctrltest.Harness
	nodes map[string]*testcluster.Node
	live  []string
	next  int
	pods  int
}

func startRealCluster(tb testing.TB, nodes, pods int) *realCluster {
	cl := testcluster.Start(tb, testcluster.Options{})
	wasm, err := os.ReadFile(filepath.Join("..", "..", "wasm-samples", "tiny", "tiny.wasm"))
	if err != nil {
		tb.Fatal(err)
	}
	digest := cl.PushModule(tb, "tiny", wasm)
	testsched.Start(tb, cl.Client)
	h := ctrltest.Start(tb, cl.Client, func(n string) *client.Client { return cl.NodeClient(tb, n) }, ctrltest.Options{
		Controllers: []func(*ctrl.Env) ctrl.Runnable{
			func(env *ctrl.Env) ctrl.Runnable { return nodelifecycle.New(env, nodelifecycle.Options{}) },
			func(env *ctrl.Env) ctrl.Runnable { return replicaset.New(env, replicaset.Options{}) },
		},
	})
	rc := &realCluster{cl: cl, h: h, nodes: map[string]*testcluster.Node{}, pods: pods}
	for range nodes {
		rc.addNode(tb)
	}
	labels := map[string]string{"app": "web"}
	tmpl := ctrltest.Template(labels)
	tmpl.Spec.Module = digest
	if _, err := client.Create(h.Ctx(), h.Admin, &waskv1.ReplicaSet{
		Metadata: &waskv1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:     &waskv1.ReplicaSetSpec{Replicas: proto.Int32(int32(pods)), Selector: &waskv1.LabelSelector{MatchLabels: labels}, Template: tmpl},
	}); err != nil {
		tb.Fatal(err)
	}
	return rc
}

func (rc *realCluster) addNode(tb testing.TB) {
	name := fmt.Sprintf("real-%d", rc.next)
	rc.next++
	rc.nodes[name] = rc.cl.AddNode(tb, testcluster.NodeOptions{Name: name})
	rc.live = append(rc.live, name)
}

// readyOn counts the ReplicaSet's Running, Ready, non-terminating pods by
// node, as the nodes reported them.
func (rc *realCluster) readyOn(ctx context.Context) map[string]int {
	on := map[string]int{}
	pods, _, _ := client.List[*waskv1.Pod](ctx, rc.h.Admin, client.ListOptions{Namespace: "default", LabelSelector: "app=web"})
	for _, p := range pods {
		if p.GetStatus().GetPhase() == "Running" && ctrl.PodReady(p) && !ctrl.Terminating(p.GetMetadata()) {
			on[p.GetSpec().GetNodeName()]++
		}
	}
	return on
}

// killBusiest waits for every pod to be Ready on live nodes, stops the node
// with the most pods at once (no drain, no status: its lease just stops, as
// with SIGKILL), and returns how long until every pod is Running and Ready
// on the other nodes.
func (rc *realCluster) killBusiest(tb testing.TB) time.Duration {
	var victim string
	rc.h.Eventually(60*time.Second, func(ctx context.Context) (bool, string) {
		on := rc.readyOn(ctx)
		total := 0
		victim = ""
		for _, n := range rc.live {
			total += on[n]
			if victim == "" || on[n] > on[victim] {
				victim = n
			}
		}
		return total == rc.pods && on[victim] > 0, fmt.Sprint(on)
	})
	start := time.Now()
	if err := rc.nodes[victim].Stop(); err != nil {
		tb.Logf("node %s stopped: %v", victim, err)
	}
	rc.live = slices.DeleteFunc(rc.live, func(n string) bool { return n == victim })
	rc.h.Eventually(60*time.Second, func(ctx context.Context) (bool, string) {
		on := rc.readyOn(ctx)
		total := 0
		for _, n := range rc.live {
			total += on[n]
		}
		return total == rc.pods && on[victim] == 0, fmt.Sprint(on)
	})
	took := time.Since(start)
	// The operator removes the dead machine (else dead nodes pile up and
	// soon count as a partition).
	if _, err := ctrl.Delete(rc.h.Ctx(), rc.h.Admin, "Node", "", victim, ctrl.DeleteOptions{}); err != nil {
		tb.Fatal(err)
	}
	return took
}

// TestRealNodeKill: one of three real wasmlets dies; its pods are replaced
// and Running on the other two.
func TestRealNodeKill(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the default lease grace and toleration (~5 s)")
	}
	rc := startRealCluster(t, 3, 12)
	t.Logf("pods Running elsewhere %v after the kill", rc.killBusiest(t).Round(time.Millisecond))
}

// BenchmarkNodeKillRealNodes is BenchmarkNodeKill with real wasmlets and
// the real scheduler: each iteration kills the busiest of three nodes and
// adds a fresh one; the figure is kill → all 30 pods Running and Ready on
// the others.
func BenchmarkNodeKillRealNodes(b *testing.B) {
	rc := startRealCluster(b, 3, 30)
	var times []time.Duration
	for range b.N {
		times = append(times, rc.killBusiest(b))
		rc.addNode(b)
	}
	slices.Sort(times)
	b.ReportMetric(times[len(times)/2].Seconds(), "s-p50")
	b.ReportMetric(times[(len(times)*99)/100].Seconds(), "s-p99")
	b.ReportMetric(times[len(times)-1].Seconds(), "s-max")
}

// TestRealNodesPartitionEvictsNothing: two of three real wasmlets lose the
// control plane at once (their leases stop). That is a partition, not two
// failures: nothing is evicted, and the controller says so in an Event.
func TestRealNodesPartitionEvictsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the default lease grace and toleration (~5 s)")
	}
	rc := startRealCluster(t, 3, 6)
	rc.h.Eventually(60*time.Second, func(ctx context.Context) (bool, string) {
		on := rc.readyOn(ctx)
		return on["real-0"]+on["real-1"]+on["real-2"] == 6, fmt.Sprint(on)
	})
	for _, n := range []string{"real-1", "real-2"} {
		if err := rc.nodes[n].Stop(); err != nil {
			t.Logf("node %s stopped: %v", n, err)
		}
	}
	rc.h.Eventually(30*time.Second, func(ctx context.Context) (bool, string) {
		return events(t, rc.h, ctx, "EvictionHalted") > 0, "no EvictionHalted event yet"
	})
	halted := time.Now()
	// Nothing happening takes time to show: wait past the toleration (2 s)
	// and a few of the controller's rechecks, then check nothing moved.
	rc.h.Eventually(20*time.Second, func(context.Context) (bool, string) {
		return time.Since(halted) > 6*time.Second, "waiting"
	})
	for _, p := range rc.h.Pods(rc.h.Ctx(), "default", "app=web") {
		if ctrl.Terminating(p.GetMetadata()) {
			t.Errorf("pod %s on %s evicted during a partition of 2 of 3 nodes", p.GetMetadata().GetName(), p.GetSpec().GetNodeName())
		}
	}
	if n := len(rc.h.Pods(rc.h.Ctx(), "default", "app=web")); n != 6 {
		t.Errorf("%d pods, want 6 (nothing replaced)", n)
	}
}
