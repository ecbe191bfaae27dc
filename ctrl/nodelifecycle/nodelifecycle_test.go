package nodelifecycle_test

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
	"github.com/wask-dev/wask/ctrl/nodelifecycle"
	"github.com/wask-dev/wask/ctrl/replicaset"
	"github.com/wask-dev/wask/internal/testcluster"
)

const (
	grace      = time.Second
	toleration = 500 * time.Millisecond
)

func start(t *testing.T) *ctrltest.Harness {
	cl := testcluster.Start(t, testcluster.Options{})
	return ctrltest.Start(t, cl.Client, func(n string) *client.Client { return cl.NodeClient(t, n) }, ctrltest.Options{
		Controllers: []func(*ctrl.Env) ctrl.Runnable{
			func(env *ctrl.Env) ctrl.Runnable {
				return nodelifecycle.New(env, nodelifecycle.Options{GracePeriod: grace, DefaultToleration: toleration, EvictionRate: 10, EvictionBurst: 3})
			},
			func(env *ctrl.Env) ctrl.Runnable { return replicaset.New(env, replicaset.Options{}) },
		},
		Nodes:  []ctrltest.NodeConfig{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}},
		Binder: true,
	})
}

// runReplicaSet runs 6 replicas once the 3 nodes are Ready and waits
// until all are ready, and returns how many are on each node.
func runReplicaSet(t *testing.T, h *ctrltest.Harness) map[string]int {
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		nodes, _, err := client.List[*waskv1.Node](ctx, h.Admin, client.ListOptions{})
		n := 0
		for _, no := range nodes {
			if ctrltest.Schedulable(no) {
				n++
			}
		}
		return n == 3, fmt.Sprint(n, " nodes ready ", err)
	})
	labels := map[string]string{"app": "web"}
	if _, err := client.Create(h.Ctx(), h.Admin, &waskv1.ReplicaSet{
		Metadata: &waskv1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:     &waskv1.ReplicaSetSpec{Replicas: proto.Int32(6), Selector: &waskv1.LabelSelector{MatchLabels: labels}, Template: ctrltest.Template(labels)},
	}); err != nil {
		t.Fatal(err)
	}
	var on map[string]int
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		on = readyByNode(h, ctx)
		return on["n1"] > 0 && on["n1"]+on["n2"]+on["n3"] == 6, fmt.Sprint(on)
	})
	return on
}

func readyByNode(h *ctrltest.Harness, ctx context.Context) map[string]int {
	on := map[string]int{}
	for _, p := range h.Pods(ctx, "default", "app=web") {
		if ctrl.PodReady(p) && !ctrl.Terminating(p.GetMetadata()) {
			on[p.GetSpec().GetNodeName()]++
		}
	}
	return on
}

func node(t *testing.T, h *ctrltest.Harness, ctx context.Context, name string) (ready string, tainted bool) {
	n, err := client.Get[*waskv1.Node](ctx, h.Admin, "", name)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range n.GetSpec().GetTaints() {
		if tt.GetKey() == nodelifecycle.TaintKey && tt.GetEffect() == "NoExecute" {
			tainted = true
		}
	}
	return ctrl.Condition(n.GetStatus().GetConditions(), "Ready").GetStatus(), tainted
}

func events(t *testing.T, h *ctrltest.Harness, ctx context.Context, reason string) int {
	evs, _, err := client.List[*waskv1.Event](ctx, h.Admin, client.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.GetReason() == reason {
			n++
		}
	}
	return n
}

func TestDeadNodeIsTaintedAndItsPodsReplaced(t *testing.T) {
	h := start(t)
	before := runReplicaSet(t, h)
	ctx := h.Ctx()
	// Two pods on n1 that tolerate the taint: forever, and for a minute.
	tmpl := ctrltest.Template(nil)
	for name, secs := range map[string]*int64{"tolerant": nil, "patient": proto.Int64(60)} {
		spec := proto.CloneOf(tmpl.GetSpec())
		spec.NodeName = "n1"
		spec.Tolerations = []*waskv1.Toleration{{Key: nodelifecycle.TaintKey, Operator: "Exists", Effect: "NoExecute", TolerationSeconds: secs}}
		if _, err := client.Create(ctx, h.Admin, &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: name, Namespace: "default"}, Spec: spec}); err != nil {
			t.Fatal(err)
		}
	}
	killed := time.Now()
	h.KillNode("n1")
	h.Eventually(15*time.Second, func(ctx context.Context) (bool, string) {
		on := readyByNode(h, ctx)
		ready, tainted := node(t, h, ctx, "n1")
		return on["n1"] == 0 && on["n2"]+on["n3"] == 6 && ready == "Unknown" && tainted, fmt.Sprint(on, " n1 ready=", ready, " tainted=", tainted)
	})
	t.Logf("node killed → its %d pods replaced and Ready on other nodes in %v (grace %v + toleration %v, simulated nodes)", before["n1"], time.Since(killed).Round(time.Millisecond), grace, toleration)
	for _, name := range []string{"tolerant", "patient"} {
		if p, err := client.Get[*waskv1.Pod](ctx, h.Admin, "default", name); err != nil || ctrl.Terminating(p.GetMetadata()) {
			t.Errorf("pod %s tolerating the taint was evicted: %v", name, err)
		}
	}
	if events(t, h, ctx, "EvictingPods") == 0 || events(t, h, ctx, "NodeNotReady") == 0 {
		t.Error("no EvictingPods or NodeNotReady event")
	}
}

func TestPartitionOfMostNodesEvictsNothing(t *testing.T) {
	h := start(t)
	before := runReplicaSet(t, h)
	ctx := h.Ctx()
	var mu sync.Mutex
	evicted := 0
	inf, _ := client.NewInformer(h.Admin, client.InformerOptions{Kind: "Pod", Namespace: "default"})
	inf.AddHandler(client.Handler{
		OnUpdate: func(_, o *waskv1.Object) {
			if ctrl.Terminating(o.Metadata()) {
				mu.Lock()
				evicted++
				mu.Unlock()
			}
		},
		OnDelete: func(*waskv1.Object) { mu.Lock(); evicted++; mu.Unlock() },
	})
	ictx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = inf.Run(ictx) }()
	defer func() { cancel(); <-done }()
	if err := inf.WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	// Block the lease renewals of 2 of 3 nodes at once; their pods keep
	// running.
	h.Node("n1").SetRenewing(false)
	h.Node("n2").SetRenewing(false)
	var halted time.Time
	h.Eventually(15*time.Second, func(ctx context.Context) (bool, string) {
		r1, t1 := node(t, h, ctx, "n1")
		r2, t2 := node(t, h, ctx, "n2")
		n := events(t, h, ctx, "EvictionHalted")
		return r1 == "Unknown" && r2 == "Unknown" && t1 && t2 && n > 0, fmt.Sprint(r1, t1, r2, t2, " halted events ", n)
	})
	halted = time.Now()
	// Nothing happening takes time to show: wait well past the toleration
	// (and a few of the controller's rechecks) and check nothing moved.
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		return time.Since(halted) > 3*toleration+grace, "waiting"
	})
	mu.Lock()
	n := evicted
	mu.Unlock()
	if n != 0 {
		t.Fatalf("%d pods evicted during a partition of 2 of 3 nodes", n)
	}
	if on := readyByNode(h, ctx); fmt.Sprint(on) != fmt.Sprint(before) {
		t.Fatalf("pods moved during the partition: %v", on)
	}
	// The partition heals: taints go, nodes are Ready again.
	h.Node("n1").SetRenewing(true)
	h.Node("n2").SetRenewing(true)
	h.Eventually(15*time.Second, func(ctx context.Context) (bool, string) {
		r1, t1 := node(t, h, ctx, "n1")
		r2, t2 := node(t, h, ctx, "n2")
		return r1 == "True" && r2 == "True" && !t1 && !t2, fmt.Sprint(r1, t1, r2, t2)
	})
}

func TestToleration(t *testing.T) {
	taint := &waskv1.Taint{Key: nodelifecycle.TaintKey, Effect: "NoExecute"}
	for _, c := range []struct {
		name    string
		tols    []*waskv1.Toleration
		want    time.Duration
		forever bool
	}{
		{"none", nil, 2 * time.Second, false},
		{"forever", []*waskv1.Toleration{{Key: nodelifecycle.TaintKey, Operator: "Exists"}}, 0, true},
		{"seconds", []*waskv1.Toleration{{Key: nodelifecycle.TaintKey, Operator: "Exists", Effect: "NoExecute", TolerationSeconds: proto.Int64(30)}}, 30 * time.Second, false},
		{"other effect", []*waskv1.Toleration{{Key: nodelifecycle.TaintKey, Operator: "Exists", Effect: "NoSchedule"}}, 2 * time.Second, false},
		{"any key", []*waskv1.Toleration{{Operator: "Exists", TolerationSeconds: proto.Int64(0)}}, 0, false},
		{"equal needs value", []*waskv1.Toleration{{Key: nodelifecycle.TaintKey, Value: "x"}}, 2 * time.Second, false},
	} {
		got, forever := nodelifecycle.Toleration(&waskv1.Pod{Spec: &waskv1.PodSpec{Tolerations: c.tols}}, taint, 2*time.Second)
		if got != c.want || forever != c.forever {
			t.Errorf("%s: %v, %v; want %v, %v", c.name, got, forever, c.want, c.forever)
		}
	}
}
