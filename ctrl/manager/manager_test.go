package manager_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
	"github.com/wask-dev/wask/ctrl/ctrltest"
	"github.com/wask-dev/wask/ctrl/manager"
	"github.com/wask-dev/wask/internal/testcluster"
)

type running struct {
	m      *manager.Manager
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan struct{}
}

func startManager(t *testing.T, cl *testcluster.Cluster, id string, keepOnStop bool) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := manager.New(manager.Config{
		Client:   cl.Client,
		Identity: id,
		Registry: reg,
		Election: ctrl.ElectorConfig{LeaseDuration: time.Second, RenewDeadline: 600 * time.Millisecond, RetryPeriod: 100 * time.Millisecond, KeepOnStop: keepOnStop},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{m: m, reg: reg, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := m.Run(ctx); err != nil {
			t.Errorf("manager %s: %v", id, err)
		}
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	r.cancel()
	<-r.done
}

// metric returns the value of a metric (summed over label values of the
// replicaset controller) in reg, or -1 if absent.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		sum := 0.0
		for _, m := range mf.GetMetric() {
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
		return sum
	}
	return -1
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func podCount(t *testing.T, cl *testcluster.Cluster) int {
	pods, _, err := client.List[*waskv1.Pod](context.Background(), cl.Client, client.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	return len(pods)
}

func setReplicas(t *testing.T, cl *testcluster.Cluster, n int32) {
	t.Helper()
	ctx := context.Background()
	for {
		rs, err := client.Get[*waskv1.ReplicaSet](ctx, cl.Client, "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		rs.Spec.Replicas = proto.Int32(n)
		if _, err := client.Update(ctx, cl.Client, rs); err == nil {
			return
		}
	}
}

func TestOnlyTheLeaderActsAndAnotherTakesOver(t *testing.T) {
	cl := testcluster.Start(t, testcluster.Options{})
	a := startManager(t, cl, "a", true)
	b := startManager(t, cl, "b", false)
	leaders := func() (n int, leader, follower *running) {
		for _, r := range []*running{a, b} {
			if r.m.IsLeader() {
				n++
				leader = r
			} else {
				follower = r
			}
		}
		return
	}
	waitFor(t, 10*time.Second, "a leader", func() bool { n, _, _ := leaders(); return n == 1 })
	_, leader, follower := leaders()

	labels := map[string]string{"app": "web"}
	if _, err := client.Create(context.Background(), cl.Client, &waskv1.ReplicaSet{
		Metadata: &waskv1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:     &waskv1.ReplicaSetSpec{Replicas: proto.Int32(3), Selector: &waskv1.LabelSelector{MatchLabels: labels}, Template: ctrltest.Template(labels)},
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "3 pods", func() bool {
		if n, _, _ := leaders(); n > 1 {
			t.Fatal("two leaders at once")
		}
		return podCount(t, cl) == 3
	})
	waitFor(t, 10*time.Second, "reconciles counted", func() bool {
		return metric(t, leader.reg, "wask_controller_reconciles_total") > 0 && metric(t, leader.reg, "wask_controller_reconcile_duration_seconds") > 0
	})
	if got := metric(t, leader.reg, "wask_controller_leader"); got != 1 {
		t.Errorf("leader gauge = %v, want 1", got)
	}
	if got := metric(t, leader.reg, "wask_controller_queue_depth"); got < 0 {
		t.Errorf("leader has no queue depth metric")
	}
	if got := metric(t, follower.reg, "wask_controller_reconciles_total"); got > 0 {
		t.Errorf("follower reconciled %v times", got)
	}

	// The leader crashes (a: keeps the lease) or steps down (b: releases).
	crash := time.Now()
	leader.stop()
	waitFor(t, 10*time.Second, "takeover", follower.m.IsLeader)
	took := time.Since(crash)
	if leader == a && took < 500*time.Millisecond {
		t.Errorf("took over %v after the crash, before the 1s lease could lapse", took)
	}
	t.Logf("leader %s stopped; the other took over after %v", map[bool]string{true: "a (crash)", false: "b (release)"}[leader == a], took)
	setReplicas(t, cl, 5)
	waitFor(t, 10*time.Second, "5 pods after takeover", func() bool { return podCount(t, cl) == 5 })

	// A manager stopping cleanly releases the lease.
	if follower == b {
		follower.stop()
		l, err := client.Get[*waskv1.Lease](context.Background(), cl.Client, "wask-system", "wask-controller-manager")
		if err != nil {
			t.Fatal(err)
		}
		if h := l.GetSpec().GetHolderIdentity(); h != "" {
			t.Errorf("lease held by %q after a clean stop", h)
		}
		if l.GetSpec().GetLeaseTransitions() < 1 {
			t.Errorf("lease transitions = %d", l.GetSpec().GetLeaseTransitions())
		}
	}
}

// With a crash-like stop of a, b takes over only once it has seen no
// renewal for the 1 s lease duration. It counts from the last renewal it
// saw (up to a retry period or two before the crash, more on a loaded
// machine), so the bound checked is looser than 1 s; a takeover without
// waiting (as after a release) takes tens of milliseconds.
func TestTakeoverAfterCrashWaitsForLease(t *testing.T) {
	cl := testcluster.Start(t, testcluster.Options{})
	a := startManager(t, cl, "a", true)
	waitFor(t, 10*time.Second, "a leads", a.m.IsLeader)
	b := startManager(t, cl, "b", false)
	crash := time.Now()
	a.stop()
	waitFor(t, 10*time.Second, "b leads", b.m.IsLeader)
	if took := time.Since(crash); took < 500*time.Millisecond {
		t.Fatalf("b took over %v after a crashed, before the 1s lease lapsed", took)
	} else {
		t.Logf("takeover after crash: %v", took.Round(time.Millisecond))
	}
}
