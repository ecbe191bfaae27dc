package job_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
	"github.com/wask-dev/wask/ctrl/ctrltest"
	"github.com/wask-dev/wask/ctrl/gc"
	"github.com/wask-dev/wask/ctrl/job"
	"github.com/wask-dev/wask/internal/testcluster"
)

// finish says how the simulated node ends each job's pods: by the job's
// name (the part of the pod name before the last '-').
func finish(p *waskv1.Pod) string {
	name := p.GetMetadata().GetName()
	switch j := name[:strings.LastIndex(name, "-")]; j {
	case "ok", "ttl":
		return "Succeeded"
	case "flaky": // the first two fail
		if name == "flaky-0" || name == "flaky-1" {
			return "Failed"
		}
		return "Succeeded"
	case "bad":
		return "Failed"
	}
	return "" // "slow": runs until stopped
}

func newJob(name string, mutate func(*waskv1.JobSpec)) *waskv1.Job {
	tmpl := ctrltest.Template(nil)
	tmpl.Spec.Mode, tmpl.Spec.RestartPolicy = "command", "Never"
	j := &waskv1.Job{Metadata: &waskv1.ObjectMeta{Name: name, Namespace: "default"}, Spec: &waskv1.JobSpec{Template: tmpl}}
	mutate(j.Spec)
	return j
}

func TestJobs(t *testing.T) {
	cl := testcluster.Start(t, testcluster.Options{})
	h := ctrltest.Start(t, cl.Client, func(n string) *client.Client { return cl.NodeClient(t, n) }, ctrltest.Options{
		Controllers: []func(*ctrl.Env) ctrl.Runnable{
			func(env *ctrl.Env) ctrl.Runnable { return job.New(env, job.Options{}) },
			func(env *ctrl.Env) ctrl.Runnable { return gc.New(env, gc.Options{}) },
		},
		Nodes:  []ctrltest.NodeConfig{{Name: "n1", Finish: finish}},
		Binder: true,
	})
	ctx := h.Ctx()
	// Follow the "ok" Job's pods: never more than parallelism (2) active.
	var mu sync.Mutex
	maxActive := 0
	inf, _ := client.NewInformer(h.Admin, client.InformerOptions{Kind: "Pod", Namespace: "default"})
	check := func(*waskv1.Object) {
		n := 0
		for _, o := range inf.List() {
			if strings.HasPrefix(o.Metadata().GetName(), "ok-") && ctrl.PodActive(o.GetPod()) {
				n++
			}
		}
		mu.Lock()
		maxActive = max(maxActive, n)
		mu.Unlock()
	}
	inf.AddHandler(client.Handler{OnAdd: check, OnUpdate: func(_, o *waskv1.Object) { check(o) }})
	ictx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = inf.Run(ictx) }()
	defer func() { cancel(); <-done }()
	if err := inf.WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	jobs := []*waskv1.Job{
		newJob("ok", func(s *waskv1.JobSpec) { s.Completions, s.Parallelism = proto.Int32(5), proto.Int32(2) }),
		newJob("flaky", func(s *waskv1.JobSpec) { s.Completions, s.BackoffLimit = proto.Int32(2), proto.Int32(3) }),
		newJob("bad", func(s *waskv1.JobSpec) { s.BackoffLimit = proto.Int32(2) }),
		newJob("slow", func(s *waskv1.JobSpec) { s.Parallelism, s.ActiveDeadlineSeconds = proto.Int32(2), proto.Int64(1) }),
		newJob("ttl", func(s *waskv1.JobSpec) { s.TtlSecondsAfterFinished = proto.Int32(1) }),
	}
	for _, j := range jobs {
		if _, err := client.Create(ctx, h.Admin, j); err != nil {
			t.Fatal(err)
		}
	}
	type want struct {
		cond, reason              string
		succeeded, failed, active int32
		pods                      int
	}
	for name, w := range map[string]want{
		"ok":    {"Complete", "Completed", 5, 0, 0, 5},
		"flaky": {"Complete", "Completed", 2, 2, 0, 4},
		"bad":   {"Failed", "BackoffLimitExceeded", 0, 3, 0, 3},
		"slow":  {"Failed", "DeadlineExceeded", 0, 0, 0, 0},
	} {
		h.Eventually(15*time.Second, func(ctx context.Context) (bool, string) {
			j, err := client.Get[*waskv1.Job](ctx, h.Admin, "default", name)
			if err != nil {
				return false, err.Error()
			}
			st := j.GetStatus()
			c := ctrl.Condition(st.GetConditions(), w.cond)
			pods := 0
			for _, p := range h.Pods(ctx, "default", "") {
				if ctrl.IsControlledBy(p.GetMetadata(), j.GetMetadata().GetUid()) {
					pods++
				}
			}
			return c.GetStatus() == "True" && c.GetReason() == w.reason && st.GetSucceeded() == w.succeeded && st.GetFailed() == w.failed &&
					st.GetActive() == w.active && pods == w.pods && st.GetStartTime() != nil,
				fmt.Sprintf("%s: %v, %d pods", name, st, pods)
		})
	}
	mu.Lock()
	if maxActive != 2 {
		t.Errorf("the ok Job had up to %d active pods, want parallelism 2", maxActive)
	}
	mu.Unlock()
	// The ttl Job is deleted a second after it completed, and its pod with it.
	h.Eventually(15*time.Second, func(ctx context.Context) (bool, string) {
		_, err := client.Get[*waskv1.Job](ctx, h.Admin, "default", "ttl")
		_, perr := client.Get[*waskv1.Pod](ctx, h.Admin, "default", "ttl-0")
		return connect.CodeOf(err) == connect.CodeNotFound && connect.CodeOf(perr) == connect.CodeNotFound, fmt.Sprint(err, perr)
	})
}
