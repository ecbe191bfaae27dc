package deployment

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
)

// Name is the controller's name in metrics, logs and Events.
const Name = "deployment-controller"

// Options tune the controller.
type Options struct {
	// Workers reconcile Deployments in parallel. Default 4.
	Workers int
}

type controller struct {
	env  *ctrl.Env
	deps *client.Informer
	rss  *client.Informer
	c    *ctrl.Controller
}

// New returns the Deployment controller.
func New(env *ctrl.Env, opts Options) *ctrl.Controller {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	r := &controller{env: env, deps: env.Informers.For("Deployment"), rss: env.Informers.For("ReplicaSet")}
	r.c = env.NewController(Name, opts.Workers, r.reconcile)
	enqueue := func(o *waskv1.Object) { r.c.Enqueue(client.Key(o)) }
	r.deps.AddHandler(client.Handler{OnAdd: enqueue, OnUpdate: func(_, o *waskv1.Object) { enqueue(o) }, OnDelete: enqueue})
	owner := func(o *waskv1.Object) {
		if ref := ctrl.ControllerOf(o.Metadata()); ref != nil && ref.GetKind() == "Deployment" {
			r.c.Enqueue(ctrl.Key(o.Metadata().GetNamespace(), ref.GetName()))
		}
	}
	r.rss.AddHandler(client.Handler{OnAdd: owner, OnUpdate: func(old, o *waskv1.Object) { owner(old); owner(o) }, OnDelete: owner})
	// Recreate waits for old pods to be gone: follow pods to their
	// ReplicaSet's Deployment.
	pods := env.Informers.For("Pod")
	podOwner := func(o *waskv1.Object) {
		if ref := ctrl.ControllerOf(o.Metadata()); ref != nil && ref.GetKind() == "ReplicaSet" {
			if rs, ok := r.rss.Get(o.Metadata().GetNamespace(), ref.GetName()); ok {
				owner(rs)
			}
		}
	}
	pods.AddHandler(client.Handler{OnDelete: podOwner})
	return r.c
}

// state is what one reconcile sees of a Deployment.
type state struct {
	d      *waskv1.Deployment
	newRS  *waskv1.ReplicaSet   // nil until created
	old    []*waskv1.ReplicaSet // by revision, oldest first
	moved  bool                 // this reconcile created or scaled a ReplicaSet
	writes []string             // revisions this reconcile wrote
}

func (r *controller) reconcile(ctx context.Context, key string) (ctrl.Result, error) {
	ns, name := ctrl.SplitKey(key)
	o, ok := r.deps.Get(ns, name)
	if !ok || ctrl.Terminating(o.Metadata()) {
		return ctrl.Result{}, nil
	}
	d := o.GetDeployment()
	s := &state{d: d}
	for _, ro := range r.env.Informers.Dependents("ReplicaSet", d.GetMetadata().GetUid()) {
		rs := ro.GetReplicaSet()
		if !ctrl.IsControlledBy(rs.GetMetadata(), d.GetMetadata().GetUid()) || ctrl.Terminating(rs.GetMetadata()) {
			continue
		}
		if s.newRS == nil && SameTemplate(rs.GetSpec().GetTemplate(), d.GetSpec().GetTemplate()) {
			s.newRS = rs
		} else {
			s.old = append(s.old, rs)
		}
	}
	sort.Slice(s.old, func(i, j int) bool {
		if ri, rj := Revision(s.old[i]), Revision(s.old[j]); ri != rj {
			return ri < rj
		}
		return s.old[i].GetMetadata().GetName() < s.old[j].GetMetadata().GetName()
	})
	err := r.rollout(ctx, s)
	requeue, serr := r.updateStatus(ctx, s, err)
	if err == nil {
		err = serr
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	for _, rev := range s.writes {
		if err := r.env.Informers.WaitForRevision(ctx, "ReplicaSet", rev); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

func (r *controller) rollout(ctx context.Context, s *state) error {
	if s.d.GetSpec().GetPaused() {
		// No rollout, but a scale of a settled Deployment (one ReplicaSet
		// with pods) still applies.
		var active []int
		for i, rs := range s.old {
			if spec(rs) > 0 {
				active = append(active, i)
			}
		}
		var err error
		switch {
		case s.newRS != nil && len(active) == 0:
			s.newRS, err = r.scale(ctx, s, s.newRS, Replicas(s.d))
		case len(active) == 1 && (s.newRS == nil || spec(s.newRS) == 0):
			s.old[active[0]], err = r.scale(ctx, s, s.old[active[0]], Replicas(s.d))
		}
		return err
	}
	if err := r.ensureNewRS(ctx, s); err != nil {
		return err
	}
	var err error
	if s.d.GetSpec().GetStrategy().GetType() == "Recreate" {
		err = r.recreate(ctx, s)
	} else {
		err = r.rollingUpdate(ctx, s)
	}
	if err != nil {
		return err
	}
	return r.cleanup(ctx, s)
}

// ensureNewRS creates the ReplicaSet of the current template, or gives an
// old one (after a rollback) the next revision.
func (r *controller) ensureNewRS(ctx context.Context, s *state) error {
	var maxRev int64
	for _, rs := range s.old {
		maxRev = max(maxRev, Revision(rs))
	}
	d := s.d
	md := d.GetMetadata()
	if s.newRS != nil {
		if Revision(s.newRS) > maxRev {
			return nil
		}
		next := proto.CloneOf(s.newRS)
		if next.Metadata.Annotations == nil {
			next.Metadata.Annotations = map[string]string{}
		}
		next.Metadata.Annotations[RevisionAnnotation] = strconv.FormatInt(maxRev+1, 10)
		got, err := client.Update(ctx, r.env.Client, next)
		if err != nil {
			return fmt.Errorf("set the revision of replicaset %s/%s: %w", md.GetNamespace(), next.GetMetadata().GetName(), err)
		}
		s.newRS, s.moved = got, true
		s.writes = append(s.writes, got.GetMetadata().GetRevision())
		return nil
	}
	hash := TemplateHash(d.GetSpec().GetTemplate(), d.GetStatus().GetCollisionCount())
	tmpl := proto.CloneOf(d.GetSpec().GetTemplate())
	if tmpl.Metadata == nil {
		tmpl.Metadata = &waskv1.ObjectMeta{}
	}
	if tmpl.Metadata.Labels == nil {
		tmpl.Metadata.Labels = map[string]string{}
	}
	tmpl.Metadata.Labels[HashLabel] = hash
	sel := proto.CloneOf(d.GetSpec().GetSelector())
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[HashLabel] = hash
	var replicas int32
	if d.GetSpec().GetStrategy().GetType() != "Recreate" && len(s.old) == 0 {
		replicas = Replicas(d) // a first rollout has nothing to wait for
	}
	rs := &waskv1.ReplicaSet{
		Metadata: &waskv1.ObjectMeta{
			Name: md.GetName() + "-" + hash, Namespace: md.GetNamespace(),
			Labels:          tmpl.GetMetadata().GetLabels(),
			Annotations:     map[string]string{RevisionAnnotation: strconv.FormatInt(maxRev+1, 10)},
			OwnerReferences: []*waskv1.OwnerReference{ctrl.ControllerRef("Deployment", md)},
		},
		Spec: &waskv1.ReplicaSetSpec{Replicas: proto.Int32(replicas), Selector: sel, Template: tmpl, MinReadySeconds: d.GetSpec().GetMinReadySeconds()},
	}
	got, err := client.Create(ctx, r.env.Client, rs)
	if connect.CodeOf(err) == connect.CodeAlreadyExists {
		cur, gerr := client.Get[*waskv1.ReplicaSet](ctx, r.env.Client, md.GetNamespace(), rs.GetMetadata().GetName())
		if gerr != nil {
			return fmt.Errorf("read replicaset %s/%s: %w", md.GetNamespace(), rs.GetMetadata().GetName(), gerr)
		}
		if ctrl.IsControlledBy(cur.GetMetadata(), md.GetUid()) && SameTemplate(cur.GetSpec().GetTemplate(), d.GetSpec().GetTemplate()) {
			s.newRS = cur // our own, not yet in the cache
			s.writes = append(s.writes, cur.GetMetadata().GetRevision())
			return nil
		}
		// Another object has the name: mix a collision count into the hash.
		next := proto.CloneOf(d)
		if next.Status == nil {
			next.Status = &waskv1.DeploymentStatus{}
		}
		next.Status.CollisionCount = proto.Int32(d.GetStatus().GetCollisionCount() + 1)
		if _, err := client.UpdateStatus(ctx, r.env.Client, next); err != nil {
			return fmt.Errorf("bump the collision count of deployment %s/%s: %w", md.GetNamespace(), md.GetName(), err)
		}
		return fmt.Errorf("replicaset name %s is taken by another object; retrying with collision count %d", rs.GetMetadata().GetName(), next.Status.GetCollisionCount())
	}
	if err != nil {
		return fmt.Errorf("create replicaset %s/%s: %w", md.GetNamespace(), rs.GetMetadata().GetName(), err)
	}
	r.env.Events.Event(ctx, Name, ctrl.Ref("Deployment", md), "Normal", "ScalingReplicaSet", fmt.Sprintf("Created replica set %s (revision %d) with %d replicas", got.GetMetadata().GetName(), maxRev+1, replicas))
	s.newRS, s.moved = got, true
	s.writes = append(s.writes, got.GetMetadata().GetRevision())
	return nil
}

// scale sets a ReplicaSet's replicas.
func (r *controller) scale(ctx context.Context, s *state, rs *waskv1.ReplicaSet, n int32) (*waskv1.ReplicaSet, error) {
	if rs.GetSpec().GetReplicas() == n && rs.GetSpec().Replicas != nil {
		return rs, nil
	}
	next := proto.CloneOf(rs)
	next.Spec.Replicas = proto.Int32(n)
	got, err := client.Update(ctx, r.env.Client, next)
	if err != nil {
		return nil, fmt.Errorf("scale replicaset %s/%s to %d: %w", rs.GetMetadata().GetNamespace(), rs.GetMetadata().GetName(), n, err)
	}
	r.env.Events.Event(ctx, Name, ctrl.Ref("Deployment", s.d.GetMetadata()), "Normal", "ScalingReplicaSet", fmt.Sprintf("Scaled replica set %s from %d to %d", rs.GetMetadata().GetName(), rs.GetSpec().GetReplicas(), n))
	s.moved = true
	s.writes = append(s.writes, got.GetMetadata().GetRevision())
	return got, nil
}

func spec(rs *waskv1.ReplicaSet) int32 {
	if rs.GetSpec().Replicas == nil {
		return 1
	}
	return rs.GetSpec().GetReplicas()
}

// available counts a ReplicaSet's available pods, but never more than it
// is to keep (pods above spec are about to be deleted).
func available(rs *waskv1.ReplicaSet) int32 {
	return min(rs.GetStatus().GetAvailableReplicas(), spec(rs))
}

func (r *controller) rollingUpdate(ctx context.Context, s *state) error {
	want := Replicas(s.d)
	surge, maxUnavailable, err := Bounds(s.d)
	if err != nil {
		return err
	}
	total := spec(s.newRS)
	for _, rs := range s.old {
		total += spec(rs)
	}
	// Scale the new ReplicaSet up within maxSurge (or down to want).
	switch n := spec(s.newRS); {
	case n > want:
		if s.newRS, err = r.scale(ctx, s, s.newRS, want); err != nil {
			return err
		}
		total -= n - want
	case n < want && total < want+surge:
		up := min(want+surge-total, want-n)
		if s.newRS, err = r.scale(ctx, s, s.newRS, n+up); err != nil {
			return err
		}
		total += up
	}
	// Scale old ReplicaSets down while keeping want-maxUnavailable
	// available: first their unavailable pods, then available ones.
	minAvailable := want - maxUnavailable
	newUnavailable := spec(s.newRS) - available(s.newRS)
	budget := total - minAvailable - newUnavailable
	for i, rs := range s.old {
		if budget <= 0 {
			break
		}
		if unhealthy := spec(rs) - available(rs); unhealthy > 0 {
			down := min(unhealthy, budget)
			if s.old[i], err = r.scale(ctx, s, rs, spec(rs)-down); err != nil {
				return err
			}
			budget -= down
		}
	}
	avail := available(s.newRS)
	for _, rs := range s.old {
		avail += available(rs)
	}
	excess := min(avail-minAvailable, budget)
	for i, rs := range s.old {
		if excess <= 0 {
			break
		}
		down := min(spec(rs), excess)
		if down == 0 {
			continue
		}
		if s.old[i], err = r.scale(ctx, s, rs, spec(rs)-down); err != nil {
			return err
		}
		excess -= down
	}
	return nil
}

func (r *controller) recreate(ctx context.Context, s *state) error {
	var err error
	oldPods := 0
	for i, rs := range s.old {
		if s.old[i], err = r.scale(ctx, s, rs, 0); err != nil {
			return err
		}
		oldPods += len(r.env.Informers.Dependents("Pod", rs.GetMetadata().GetUid()))
	}
	if oldPods > 0 {
		return nil // old pods still stopping; their deletion requeues us
	}
	s.newRS, err = r.scale(ctx, s, s.newRS, Replicas(s.d))
	return err
}

// cleanup deletes the oldest scaled-down ReplicaSets beyond
// revisionHistoryLimit.
func (r *controller) cleanup(ctx context.Context, s *state) error {
	limit := 10
	if s.d.GetSpec().RevisionHistoryLimit != nil {
		limit = int(s.d.GetSpec().GetRevisionHistoryLimit())
	}
	var idle []*waskv1.ReplicaSet
	for _, rs := range s.old {
		if spec(rs) == 0 && rs.GetStatus().GetReplicas() == 0 && len(r.env.Informers.Dependents("Pod", rs.GetMetadata().GetUid())) == 0 {
			idle = append(idle, rs)
		}
	}
	for _, rs := range idle[:max(len(idle)-limit, 0)] {
		md := rs.GetMetadata()
		rev, err := ctrl.Delete(ctx, r.env.Client, "ReplicaSet", md.GetNamespace(), md.GetName(), ctrl.DeleteOptions{UID: md.GetUid()})
		if err != nil {
			return err
		}
		s.writes = append(s.writes, rev)
	}
	return nil
}

// updateStatus writes the Deployment's status and conditions; it returns
// when to check the progress deadline again.
func (r *controller) updateStatus(ctx context.Context, s *state, rerr error) (time.Duration, error) {
	d := s.d
	now := r.env.Now()
	want := Replicas(d)
	st := &waskv1.DeploymentStatus{ObservedGeneration: d.GetMetadata().GetGeneration()}
	if d.GetStatus() != nil {
		st.CollisionCount = d.Status.CollisionCount
	}
	all := append([]*waskv1.ReplicaSet{}, s.old...)
	if s.newRS != nil {
		all = append(all, s.newRS)
		st.UpdatedReplicas = s.newRS.GetStatus().GetReplicas()
	}
	for _, rs := range all {
		st.Replicas += rs.GetStatus().GetReplicas()
		st.ReadyReplicas += rs.GetStatus().GetReadyReplicas()
		st.AvailableReplicas += rs.GetStatus().GetAvailableReplicas()
	}
	st.UnavailableReplicas = max(want-st.AvailableReplicas, 0)
	st.Conditions = append(st.Conditions, d.GetStatus().GetConditions()...)
	_, maxUnavailable, _ := Bounds(d)
	if d.GetSpec().GetStrategy().GetType() == "Recreate" {
		maxUnavailable = want
	}
	ts := timestamppb.New(now)
	if st.AvailableReplicas >= want-maxUnavailable {
		ctrl.SetCondition(&st.Conditions, &waskv1.Condition{Type: "Available", Status: "True", Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability.", LastTransitionTime: ts})
	} else {
		ctrl.SetCondition(&st.Conditions, &waskv1.Condition{Type: "Available", Status: "False", Reason: "MinimumReplicasUnavailable", Message: "Deployment does not have minimum availability.", LastTransitionTime: ts})
	}
	var requeue time.Duration
	prev := ctrl.Condition(d.GetStatus().GetConditions(), "Progressing")
	newName := ""
	if s.newRS != nil {
		newName = s.newRS.GetMetadata().GetName()
	}
	complete := s.newRS != nil && st.UpdatedReplicas == want && s.newRS.GetStatus().GetAvailableReplicas() >= want && st.Replicas == want &&
		spec(s.newRS) == want && s.newRS.GetStatus().GetObservedGeneration() == s.newRS.GetMetadata().GetGeneration()
	progressed := s.moved || prev == nil || st.UpdatedReplicas != d.GetStatus().GetUpdatedReplicas() ||
		st.ReadyReplicas != d.GetStatus().GetReadyReplicas() || st.AvailableReplicas != d.GetStatus().GetAvailableReplicas() ||
		st.Replicas != d.GetStatus().GetReplicas()
	deadline := 600 * time.Second
	if d.GetSpec().ProgressDeadlineSeconds != nil {
		deadline = time.Duration(d.GetSpec().GetProgressDeadlineSeconds()) * time.Second
	}
	switch {
	case d.GetSpec().GetPaused():
		ctrl.SetCondition(&st.Conditions, &waskv1.Condition{Type: "Progressing", Status: "Unknown", Reason: "DeploymentPaused", Message: "Deployment is paused.", LastTransitionTime: ts, LastUpdateTime: ts})
	case complete:
		ctrl.SetCondition(&st.Conditions, &waskv1.Condition{Type: "Progressing", Status: "True", Reason: "NewReplicaSetAvailable",
			Message: fmt.Sprintf("ReplicaSet %q has successfully progressed.", newName), LastTransitionTime: ts})
	case progressed && !(prev.GetReason() == "ProgressDeadlineExceeded" && !s.moved):
		ctrl.SetCondition(&st.Conditions, &waskv1.Condition{Type: "Progressing", Status: "True", Reason: "ReplicaSetUpdated",
			Message: fmt.Sprintf("ReplicaSet %q is progressing.", newName), LastTransitionTime: ts, LastUpdateTime: ts})
		requeue = deadline
	case prev.GetReason() != "ProgressDeadlineExceeded":
		last := prev.GetLastUpdateTime()
		if last == nil {
			last = prev.GetLastTransitionTime()
		}
		if left := last.AsTime().Add(deadline).Sub(now); left > 0 {
			requeue = left
		} else {
			ctrl.SetCondition(&st.Conditions, &waskv1.Condition{Type: "Progressing", Status: "False", Reason: "ProgressDeadlineExceeded",
				Message: fmt.Sprintf("ReplicaSet %q has timed out progressing.", newName), LastTransitionTime: ts, LastUpdateTime: ts})
			r.env.Events.Event(ctx, Name, ctrl.Ref("Deployment", d.GetMetadata()), "Warning", "ProgressDeadlineExceeded",
				fmt.Sprintf("Rollout to ReplicaSet %q made no progress for %v", newName, deadline))
		}
	}
	ctrl.SetFailure(&st.Conditions, rerr, now)
	if proto.Equal(st, d.GetStatus()) {
		return requeue, nil
	}
	next := proto.CloneOf(d)
	next.Status = st
	if _, err := client.UpdateStatus(ctx, r.env.Client, next); ctrl.IgnoreNotFound(err) != nil {
		return 0, fmt.Errorf("update status of deployment %s/%s: %w", d.GetMetadata().GetNamespace(), d.GetMetadata().GetName(), err)
	}
	return requeue, nil
}
