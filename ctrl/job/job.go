package job

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
)

// Name is the controller's name in metrics, logs and Events.
const Name = "job-controller"

// Options tune the controller.
type Options struct {
	// Workers reconcile Jobs in parallel. Default 4.
	Workers int
}

type controller struct {
	env  *ctrl.Env
	jobs *client.Informer
	pods *client.Informer
}

// New returns the Job controller.
func New(env *ctrl.Env, opts Options) *ctrl.Controller {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	r := &controller{env: env, jobs: env.Informers.For("Job"), pods: env.Informers.For("Pod")}
	c := env.NewController(Name, opts.Workers, r.reconcile)
	enqueue := func(o *waskv1.Object) { c.Enqueue(client.Key(o)) }
	r.jobs.AddHandler(client.Handler{OnAdd: enqueue, OnUpdate: func(_, o *waskv1.Object) { enqueue(o) }})
	owner := func(o *waskv1.Object) {
		if ref := ctrl.ControllerOf(o.Metadata()); ref != nil && ref.GetKind() == "Job" {
			c.Enqueue(ctrl.Key(o.Metadata().GetNamespace(), ref.GetName()))
		}
	}
	r.pods.AddHandler(client.Handler{OnAdd: owner, OnUpdate: func(_, o *waskv1.Object) { owner(o) }, OnDelete: owner})
	return c
}

func count(v *int32, def int32) int32 {
	if v == nil {
		return def
	}
	return *v
}

func (r *controller) reconcile(ctx context.Context, key string) (ctrl.Result, error) {
	ns, name := ctrl.SplitKey(key)
	o, ok := r.jobs.Get(ns, name)
	if !ok || ctrl.Terminating(o.Metadata()) {
		return ctrl.Result{}, nil
	}
	job := o.GetJob()
	md := job.GetMetadata()
	spec := job.GetSpec()
	now := r.env.Now()
	st := proto.CloneOf(job.GetStatus())
	if st == nil {
		st = &waskv1.JobStatus{}
	}
	if st.StartTime == nil {
		st.StartTime = timestamppb.New(now)
	}
	var active, counted []*waskv1.Pod
	var succeeded, failed int32
	for _, po := range r.env.Informers.Dependents("Pod", md.GetUid()) {
		p := po.GetPod()
		if !ctrl.IsControlledBy(p.GetMetadata(), md.GetUid()) {
			continue
		}
		counted = append(counted, p)
		switch {
		case p.GetStatus().GetPhase() == "Succeeded":
			succeeded++
		case p.GetStatus().GetPhase() == "Failed":
			failed++
		case !ctrl.Terminating(p.GetMetadata()):
			active = append(active, p)
		}
	}
	completions, parallelism := count(spec.Completions, 1), count(spec.Parallelism, 1)
	ts := timestamppb.New(now)
	finished := finishedAt(st)
	var requeue time.Duration
	if finished == nil {
		switch {
		case failed > count(spec.BackoffLimit, 6):
			finished = fail(st, "BackoffLimitExceeded", fmt.Sprintf("%d pods failed, more than the backoff limit of %d", failed, count(spec.BackoffLimit, 6)), ts)
		case spec.ActiveDeadlineSeconds != nil && now.Sub(st.StartTime.AsTime()) >= time.Duration(spec.GetActiveDeadlineSeconds())*time.Second:
			finished = fail(st, "DeadlineExceeded", fmt.Sprintf("Job was active longer than %ds", spec.GetActiveDeadlineSeconds()), ts)
		case succeeded >= completions:
			st.CompletionTime = ts
			ctrl.SetCondition(&st.Conditions, &waskv1.Condition{Type: "Complete", Status: "True", Reason: "Completed", Message: fmt.Sprintf("%d of %d pods succeeded", succeeded, completions), LastTransitionTime: ts})
			finished = ts
		}
		if finished != nil {
			kind, reason := "Normal", "Completed"
			if c := ctrl.Condition(st.GetConditions(), "Failed"); c != nil {
				kind, reason = "Warning", c.GetReason()
			}
			r.env.Events.Event(ctx, Name, ctrl.Ref("Job", md), kind, reason, fmt.Sprintf("Job finished: %d succeeded, %d failed", succeeded, failed))
		}
	}
	var rev string
	var err error
	if finished != nil {
		// Stop what still runs; delete the Job after its TTL.
		rev, err = r.deletePods(ctx, active)
		active = nil
		if spec.TtlSecondsAfterFinished != nil {
			left := finished.AsTime().Add(time.Duration(spec.GetTtlSecondsAfterFinished()) * time.Second).Sub(now)
			if left <= 0 {
				_, err := ctrl.Delete(ctx, r.env.Client, "Job", ns, name, ctrl.DeleteOptions{UID: md.GetUid()})
				return ctrl.Result{}, err
			}
			requeue = left
		}
	} else {
		want := min(parallelism, completions-succeeded)
		switch {
		case int32(len(active)) < want:
			var stale bool
			if rev, stale, err = r.create(ctx, job, counted, int(want)-len(active)); stale {
				return ctrl.Result{RequeueAfter: ctrl.StaleCountRequeue}, nil // its pod's event re-queues it too
			}
		case int32(len(active)) > want:
			rev, err = r.deletePods(ctx, active[want:])
		}
		if spec.ActiveDeadlineSeconds != nil {
			requeue = st.StartTime.AsTime().Add(time.Duration(spec.GetActiveDeadlineSeconds()) * time.Second).Sub(now)
		}
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	st.Active, st.Succeeded, st.Failed = int32(len(active)), succeeded, failed
	if !proto.Equal(st, job.GetStatus()) {
		next := proto.CloneOf(job)
		next.Status = st
		if _, err := client.UpdateStatus(ctx, r.env.Client, next); ctrl.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("update status of job %s: %w", key, err)
		}
	}
	if err := r.env.Informers.WaitForRevision(ctx, "Pod", rev); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: max(requeue, 0)}, nil
}

// finishedAt returns when the Job finished, or nil.
func finishedAt(st *waskv1.JobStatus) *timestamppb.Timestamp {
	for _, t := range []string{"Complete", "Failed"} {
		if c := ctrl.Condition(st.GetConditions(), t); c.GetStatus() == "True" {
			return c.GetLastTransitionTime()
		}
	}
	return nil
}

func fail(st *waskv1.JobStatus, reason, msg string, ts *timestamppb.Timestamp) *timestamppb.Timestamp {
	ctrl.SetCondition(&st.Conditions, &waskv1.Condition{Type: "Failed", Status: "True", Reason: reason, Message: msg, LastTransitionTime: ts})
	return ts
}

func (r *controller) deletePods(ctx context.Context, pods []*waskv1.Pod) (string, error) {
	return ctrl.Writes(ctx, len(pods), 32, func(ctx context.Context, i int) (string, error) {
		md := pods[i].GetMetadata()
		return ctrl.Delete(ctx, r.env.Client, "Pod", md.GetNamespace(), md.GetName(), ctrl.DeleteOptions{UID: md.GetUid()})
	})
}

// create makes n pods with the lowest free names; stale: see
// ctrl.FreePodNames (counted are the pods the reconcile counted).
func (r *controller) create(ctx context.Context, job *waskv1.Job, counted []*waskv1.Pod, n int) (rev string, stale bool, err error) {
	md := job.GetMetadata()
	names, stale := ctrl.FreePodNames(r.pods, md.GetNamespace(), md.GetName(), md.GetUid(), counted, n)
	if stale {
		return "", true, nil
	}
	tmpl := job.GetSpec().GetTemplate()
	rev, err = ctrl.Writes(ctx, len(names), 32, func(ctx context.Context, i int) (string, error) {
		p := &waskv1.Pod{
			Metadata: &waskv1.ObjectMeta{
				Name: names[i], Namespace: md.GetNamespace(),
				Labels: tmpl.GetMetadata().GetLabels(), Annotations: tmpl.GetMetadata().GetAnnotations(),
				OwnerReferences: []*waskv1.OwnerReference{ctrl.ControllerRef("Job", md)},
			},
			Spec: proto.CloneOf(tmpl.GetSpec()),
		}
		got, err := client.Create(ctx, r.env.Client, p)
		if err != nil {
			return "", ctrl.IgnoreExists(fmt.Errorf("create pod %s/%s: %w", md.GetNamespace(), names[i], err))
		}
		return got.GetMetadata().GetRevision(), nil
	})
	return rev, false, err
}
