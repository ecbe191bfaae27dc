package sched

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

// TestSchedulerSpreadsAndExplains runs the scheduler against a real
// apiserver and store with simulated nodes: pods of one owner spread over
// the nodes; a pod too big for every node stays Pending with a
// PodScheduled=False condition and a FailedScheduling event saying why,
// and is placed as soon as a node that fits joins.
func TestSchedulerSpreadsAndExplains(t *testing.T) {
	c := startCluster(t)
	push(t, c.Client, "hello", wasmModule("wasi_snapshot_preview1"))
	for i, zone := range []string{"z1", "z1", "z2"} {
		addSimNode(t, c.Client, node(simName(i), labels("zone", zone), alloc("256Mi", "2", "100")))
	}
	addSimNode(t, c.Client, node("gpu-0", alloc("8Gi", "8", "100"), taint("dedicated", "gpu", "NoSchedule")))
	s := runScheduler(t, c.Client, Config{})

	for i := range 6 {
		createPod(t, c.Client, pod(fmt.Sprintf("web-%d", i), owned("rs-web"), requests("16Mi", "100m")))
	}
	waitFor(t, "6 pods bound", 20*time.Second, func() (bool, string) {
		pods, _, err := client.List[*waskv1.Pod](context.Background(), c.Client, client.ListOptions{FieldSelector: "spec.nodeName="})
		return err == nil && len(pods) == 0, fmt.Sprintf("%d unbound, err %v", len(pods), err)
	})
	perNode := map[string]int{}
	for i := range 6 {
		p := getPod(t, c.Client, fmt.Sprintf("web-%d", i))
		perNode[p.GetSpec().GetNodeName()]++
		if cond := podCondition(p, "PodScheduled"); cond.GetStatus() != "True" {
			t.Errorf("%s: PodScheduled %v", p.GetMetadata().GetName(), cond)
		}
	}
	if diff := cmp.Diff(map[string]int{simName(0): 2, simName(1): 2, simName(2): 2}, perNode); diff != "" {
		t.Errorf("pods per node (-want +got):\n%s", diff)
	}

	createPod(t, c.Client, pod("huge", requests("1Gi", "")))
	want := "0/4 nodes are available: 3 insufficient memory, 1 node(s) had untolerated taint {dedicated: gpu}."
	waitFor(t, "huge reported unschedulable", 20*time.Second, func() (bool, string) {
		p := getPod(t, c.Client, "huge")
		cond := podCondition(p, "PodScheduled")
		return cond.GetStatus() == "False" && cond.GetReason() == "Unschedulable" && cond.GetMessage() == want, fmt.Sprint(cond)
	})
	waitFor(t, "FailedScheduling event", 20*time.Second, func() (bool, string) {
		evs, _, err := client.List[*waskv1.Event](context.Background(), c.Client, client.ListOptions{
			Namespace: "default", FieldSelector: "involvedObject.name=huge",
		})
		for _, e := range evs {
			if e.GetReason() == "FailedScheduling" && e.GetMessage() == want && e.GetType() == "Warning" && e.GetSource().GetComponent() == "scheduler" {
				return true, ""
			}
		}
		return false, fmt.Sprint(evs, err)
	})
	if p := getPod(t, c.Client, "huge"); p.GetSpec().GetNodeName() != "" || p.GetStatus().GetPhase() != "Pending" {
		t.Fatalf("huge: node %q phase %q", p.GetSpec().GetNodeName(), p.GetStatus().GetPhase())
	}
	if got := testutil.ToFloat64(s.metrics.attempts.WithLabelValues("unschedulable")); got < 1 {
		t.Errorf("unschedulable attempts = %v", got)
	}

	addSimNode(t, c.Client, node("big-0", alloc("4Gi", "4", "100")))
	waitFor(t, "huge bound to the new node", 20*time.Second, func() (bool, string) {
		p := getPod(t, c.Client, "huge")
		cond := podCondition(p, "PodScheduled")
		return p.GetSpec().GetNodeName() == "big-0" && cond.GetStatus() == "True", fmt.Sprint(p.GetSpec().GetNodeName(), cond)
	})
	if got := testutil.ToFloat64(s.metrics.bound); got != 7 {
		t.Errorf("pods bound metric = %v, want 7", got)
	}
}

// TestSchedulerHostCapabilities checks that a pod whose module needs a
// host module goes only to a node that provides it, and that a pod whose
// Module is pushed late is placed once it is.
func TestSchedulerHostCapabilities(t *testing.T) {
	c := startCluster(t)
	push(t, c.Client, "hello", wasmModule("wasi_snapshot_preview1"))
	addSimNode(t, c.Client, node("plain", hostModules("wasi_snapshot_preview1"), alloc("8Gi", "8", "100")))
	addSimNode(t, c.Client, node("mesh", alloc("1Gi", "1", "100")))
	runScheduler(t, c.Client, Config{})

	for i := range 4 {
		createPod(t, c.Client, pod(fmt.Sprintf("client-%d", i), moduleRef("needs-wask")))
	}
	waitFor(t, "unknown module reported", 20*time.Second, func() (bool, string) {
		cond := podCondition(getPod(t, c.Client, "client-0"), "PodScheduled")
		return cond.GetStatus() == "False" && cond.GetMessage() == `0/2 nodes are available: the pod's module "needs-wask" is not known (no Module object names it).`, fmt.Sprint(cond)
	})
	push(t, c.Client, "needs-wask", wasmModule("wasi_snapshot_preview1", "wask"))
	for i := range 4 {
		name := fmt.Sprintf("client-%d", i)
		waitFor(t, name+" bound", 20*time.Second, func() (bool, string) {
			n := getPod(t, c.Client, name).GetSpec().GetNodeName()
			return n == "mesh", n
		})
	}
}

// TestTwoSchedulersNeverDoubleBind runs two schedulers on the same pods.
// Both try to bind every pod; the apiserver's conditional Bind lets only
// one succeed per pod, so the successes of the two add up to exactly the
// number of pods, and no pod's node ever changes once set.
func TestTwoSchedulersNeverDoubleBind(t *testing.T) {
	c := startCluster(t)
	push(t, c.Client, "hello", wasmModule("wasi_snapshot_preview1"))
	for i := range 5 {
		addSimNode(t, c.Client, node(simName(i), alloc("64Gi", "64", "1000")))
	}
	// Different seeds so they tend to choose different nodes.
	a := runScheduler(t, c.Client, Config{Seed: 1})
	b := runScheduler(t, c.Client, Config{Seed: 2})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := c.Client.Objects.Watch(ctx, connectRequest(&waskv1.WatchRequest{Kind: "Pod", Revision: "1"}))
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		createPod(t, c.Client, pod(fmt.Sprintf("p-%03d", i), requests("1Mi", "1m")))
	}
	nodeOf := map[string]string{}
	for len(nodeOf) < n && stream.Receive() {
		p := stream.Msg().GetObject().GetPod()
		name, nn := p.GetMetadata().GetName(), p.GetSpec().GetNodeName()
		if prev, ok := nodeOf[name]; ok && prev != nn {
			t.Fatalf("pod %s moved from %s to %q", name, prev, nn)
		}
		if nn != "" {
			nodeOf[name] = nn
		}
	}
	if len(nodeOf) < n {
		t.Fatalf("watch ended with %d of %d pods bound: %v", len(nodeOf), n, stream.Err())
	}
	total := func() float64 { return testutil.ToFloat64(a.metrics.bound) + testutil.ToFloat64(b.metrics.bound) }
	waitFor(t, "both schedulers settled", 10*time.Second, func() (bool, string) {
		fa, fb := testutil.ToFloat64(a.metrics.bindErrors.WithLabelValues("failed_precondition")), testutil.ToFloat64(b.metrics.bindErrors.WithLabelValues("failed_precondition"))
		return total() == n, fmt.Sprintf("bound %v, lost races %v+%v", total(), fa, fb)
	})
	t.Logf("scheduler a bound %v, b bound %v; lost races a %v, b %v",
		testutil.ToFloat64(a.metrics.bound), testutil.ToFloat64(b.metrics.bound),
		testutil.ToFloat64(a.metrics.bindErrors.WithLabelValues("failed_precondition")),
		testutil.ToFloat64(b.metrics.bindErrors.WithLabelValues("failed_precondition")))
}

// TestSchedulerPreemptsLowerPriority fills a node with a low-priority pod,
// then creates a high-priority pod that fits only in its place: the
// scheduler nominates the node, deletes the victim, and binds the pod
// there once the victim is gone. A pod of equal priority preempts nothing.
func TestSchedulerPreemptsLowerPriority(t *testing.T) {
	c := startCluster(t)
	push(t, c.Client, "hello", wasmModule("wasi_snapshot_preview1"))
	addSimNode(t, c.Client, node("only", alloc("100Mi", "1", "10")))
	runScheduler(t, c.Client, Config{InitialBackoff: 50 * time.Millisecond})

	grace0 := func(p *waskv1.Pod) { p.Spec.TerminationGracePeriod = "0s" }
	createPod(t, c.Client, pod("low", requests("80Mi", ""), priority(1), grace0))
	waitFor(t, "low bound", 20*time.Second, func() (bool, string) {
		return getPod(t, c.Client, "low").GetSpec().GetNodeName() == "only", ""
	})
	createPod(t, c.Client, pod("peer", requests("60Mi", ""), priority(1)))
	waitFor(t, "peer unschedulable", 20*time.Second, func() (bool, string) {
		cond := podCondition(getPod(t, c.Client, "peer"), "PodScheduled")
		return cond.GetStatus() == "False", fmt.Sprint(cond)
	})
	createPod(t, c.Client, pod("high", requests("50Mi", ""), priority(100)))
	waitFor(t, "high bound in low's place", 20*time.Second, func() (bool, string) {
		high, low := getPod(t, c.Client, "high"), getPod(t, c.Client, "low")
		return high.GetSpec().GetNodeName() == "only" && low == nil, fmt.Sprintf("high on %q (nominated %q), low %v", high.GetSpec().GetNodeName(), high.GetStatus().GetNominatedNodeName(), low != nil)
	})
	if p := getPod(t, c.Client, "peer"); p.GetSpec().GetNodeName() != "" {
		t.Errorf("peer (same priority as the victim) was bound to %s", p.GetSpec().GetNodeName())
	}
	evs, _, err := client.List[*waskv1.Event](context.Background(), c.Client, client.ListOptions{Namespace: "default", FieldSelector: "involvedObject.name=low"})
	if err != nil || len(evs) != 1 || evs[0].GetReason() != "Preempted" {
		t.Errorf("events of low: %v %v", evs, err)
	}
}

// TestLeaderElection runs two schedulers that share a Lease: only the
// holder binds pods; when it stops, it releases the lease and the other
// takes over.
func TestLeaderElection(t *testing.T) {
	c := startCluster(t)
	push(t, c.Client, "hello", wasmModule("wasi_snapshot_preview1"))
	addSimNode(t, c.Client, node("n", alloc("64Gi", "64", "1000")))
	le := func(id string) *LeaderElection {
		return &LeaderElection{Identity: id, LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 50 * time.Millisecond}
	}
	a, stopA := startScheduler(t, Options{Client: c.Client, LeaderElection: le("a")})
	waitFor(t, "a to lead", 20*time.Second, func() (bool, string) { return a.Leading(), "" })
	b, _ := startScheduler(t, Options{Client: c.Client, LeaderElection: le("b")})

	for i := range 20 {
		createPod(t, c.Client, pod(fmt.Sprintf("first-%d", i)))
	}
	waitFor(t, "a to bind 20 pods", 20*time.Second, func() (bool, string) {
		return testutil.ToFloat64(a.metrics.bound) == 20, fmt.Sprint(testutil.ToFloat64(a.metrics.bound))
	})
	if b.Leading() || testutil.ToFloat64(b.metrics.attempts.WithLabelValues("scheduled")) != 0 {
		t.Fatalf("the follower scheduled while a led (leading %v)", b.Leading())
	}

	stopA()
	waitFor(t, "b to take over", 20*time.Second, func() (bool, string) { return b.Leading(), "" })
	for i := range 20 {
		createPod(t, c.Client, pod(fmt.Sprintf("second-%d", i)))
	}
	waitFor(t, "b to bind 20 pods", 20*time.Second, func() (bool, string) {
		return testutil.ToFloat64(b.metrics.bound) == 20, fmt.Sprint(testutil.ToFloat64(b.metrics.bound))
	})
	l, err := client.Get[*waskv1.Lease](context.Background(), c.Client, "default", "wask-scheduler")
	if err != nil || l.GetSpec().GetHolderIdentity() != "b" || l.GetSpec().GetLeaseTransitions() != 1 {
		t.Errorf("lease: %v, %v", l.GetSpec(), err)
	}
}

// TestSchedulerNeverOverfills creates more pods than the nodes can hold at
// once: the assume cache counts pods whose bindings are in flight, so
// exactly the capacity is bound and the rest wait, reported as "too many
// pods"; when bound pods are deleted, as many waiting pods take their
// place.
func TestSchedulerNeverOverfills(t *testing.T) {
	c := startCluster(t)
	push(t, c.Client, "hello", wasmModule("wasi_snapshot_preview1"))
	for i := range 3 {
		addSimNode(t, c.Client, node(simName(i), alloc("1Gi", "1", "5")))
	}
	runScheduler(t, c.Client, Config{InitialBackoff: 50 * time.Millisecond})
	for i := range 25 {
		createPod(t, c.Client, pod(fmt.Sprintf("p-%02d", i), func(p *waskv1.Pod) { p.Spec.TerminationGracePeriod = "0s" }))
	}
	state := func() (bound map[string][]string, pending []*waskv1.Pod) {
		pods, _, err := client.List[*waskv1.Pod](context.Background(), c.Client, client.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		bound = map[string][]string{}
		for _, p := range pods {
			if n := p.GetSpec().GetNodeName(); n != "" {
				bound[n] = append(bound[n], p.GetMetadata().GetName())
			} else {
				pending = append(pending, p)
			}
		}
		return bound, pending
	}
	want := "0/3 nodes are available: 3 too many pods."
	waitFor(t, "15 bound, 10 reported pending", 20*time.Second, func() (bool, string) {
		bound, pending := state()
		reported := 0
		for _, p := range pending {
			if podCondition(p, "PodScheduled").GetMessage() == want {
				reported++
			}
		}
		n := 0
		for node, pods := range bound {
			if len(pods) > 5 {
				t.Fatalf("node %s holds %d pods, more than its 5", node, len(pods))
			}
			n += len(pods)
		}
		return n == 15 && reported == 10, fmt.Sprintf("%d bound, %d pending, %d reported", n, len(pending), reported)
	})
	bound, _ := state()
	for _, name := range bound[simName(1)] {
		if _, err := client.Delete[*waskv1.Pod](context.Background(), c.Client, "default", name, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "5 waiting pods to take the freed room", 20*time.Second, func() (bool, string) {
		bound, pending := state()
		return len(bound[simName(1)]) == 5 && len(pending) == 5, fmt.Sprintf("%d on %s, %d pending", len(bound[simName(1)]), simName(1), len(pending))
	})
}
