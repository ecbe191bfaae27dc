package replicaset

import (
	"context"
	"fmt"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
)

// Name is the controller's name in metrics, logs and Events.
const Name = "replicaset-controller"

// Options tune the controller.
type Options struct {
	// Workers reconcile ReplicaSets in parallel. Default 4.
	Workers int
	// Burst is the most pods one reconcile creates or deletes. Default 1000.
	Burst int
	// Concurrency is the number of creates or deletes in flight at once.
	// Default 64.
	Concurrency int
}

type controller struct {
	env  *ctrl.Env
	opts Options
	rss  *client.Informer
	pods *client.Informer
	c    *ctrl.Controller
}

// New returns the ReplicaSet controller.
func New(env *ctrl.Env, opts Options) *ctrl.Controller {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Burst <= 0 {
		opts.Burst = 1000
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 64
	}
	r := &controller{env: env, opts: opts, rss: env.Informers.For("ReplicaSet"), pods: env.Informers.For("Pod")}
	r.c = env.NewController(Name, opts.Workers, r.reconcile)
	enqueue := func(o *waskv1.Object) { r.c.Enqueue(client.Key(o)) }
	r.rss.AddHandler(client.Handler{OnAdd: enqueue, OnUpdate: func(_, o *waskv1.Object) { enqueue(o) }, OnDelete: enqueue})
	owner := func(o *waskv1.Object) {
		if ref := ctrl.ControllerOf(o.Metadata()); ref != nil && ref.GetKind() == "ReplicaSet" {
			r.c.Enqueue(ctrl.Key(o.Metadata().GetNamespace(), ref.GetName()))
		}
	}
	r.pods.AddHandler(client.Handler{OnAdd: owner, OnUpdate: func(old, o *waskv1.Object) { owner(old); owner(o) }, OnDelete: owner})
	return r.c
}

func (r *controller) reconcile(ctx context.Context, key string) (ctrl.Result, error) {
	ns, name := ctrl.SplitKey(key)
	o, ok := r.rss.Get(ns, name)
	if !ok {
		return ctrl.Result{}, nil // its pods go with it (gc)
	}
	rs := o.GetReplicaSet()
	now := r.env.Now()
	var owned, active []*waskv1.Pod
	for _, po := range r.env.Informers.Dependents("Pod", rs.GetMetadata().GetUid()) {
		p := po.GetPod()
		if ctrl.IsControlledBy(p.GetMetadata(), rs.GetMetadata().GetUid()) {
			owned = append(owned, p)
			if ctrl.PodActive(p) {
				active = append(active, p)
			}
		}
	}
	want := int(Replicas(rs))
	var rev string
	var werr error
	switch diff := want - len(active); {
	case ctrl.Terminating(rs.GetMetadata()):
		// Being deleted: the garbage collector removes the pods.
	case diff > 0:
		var stale bool
		if rev, stale, werr = r.create(ctx, rs, owned, min(diff, r.opts.Burst)); stale {
			// The pod's own event will enqueue this ReplicaSet once the
			// owner index has it; the requeue is a safety net.
			return ctrl.Result{RequeueAfter: ctrl.StaleCountRequeue}, nil
		}
	case diff < 0:
		victims := ScaleDownOrder(active, now)[:min(-diff, r.opts.Burst)]
		rev, werr = ctrl.Writes(ctx, len(victims), r.opts.Concurrency, func(ctx context.Context, i int) (string, error) {
			p := victims[i].GetMetadata()
			return ctrl.Delete(ctx, r.env.Client, "Pod", p.GetNamespace(), p.GetName(), ctrl.DeleteOptions{UID: p.GetUid()})
		})
	}
	requeue, serr := r.updateStatus(ctx, rs, active, werr, now)
	if werr != nil {
		return ctrl.Result{}, werr
	}
	if serr != nil {
		return ctrl.Result{}, serr
	}
	// Read our own writes before the next reconcile of this ReplicaSet.
	if err := r.env.Informers.WaitForRevision(ctx, "Pod", rev); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// create makes n pods with the lowest free names; stale: see
// ctrl.FreePodNames (owned are the pods the reconcile counted).
func (r *controller) create(ctx context.Context, rs *waskv1.ReplicaSet, owned []*waskv1.Pod, n int) (rev string, stale bool, err error) {
	md := rs.GetMetadata()
	names, stale := ctrl.FreePodNames(r.pods, md.GetNamespace(), md.GetName(), md.GetUid(), owned, n)
	if stale {
		return "", true, nil
	}
	rev, err = ctrl.Writes(ctx, len(names), r.opts.Concurrency, func(ctx context.Context, i int) (string, error) {
		p := PodFromTemplate(rs.GetSpec().GetTemplate(), md.GetNamespace(), names[i], ctrl.ControllerRef("ReplicaSet", md))
		got, err := client.Create(ctx, r.env.Client, p)
		if err != nil {
			return "", ctrl.IgnoreExists(fmt.Errorf("create pod %s/%s: %w", md.GetNamespace(), names[i], err))
		}
		return got.GetMetadata().GetRevision(), nil
	})
	return rev, false, err
}

// Replicas returns a ReplicaSet's desired replicas (unset: 1).
func Replicas(rs *waskv1.ReplicaSet) int32 {
	if rs.GetSpec().Replicas == nil {
		return 1
	}
	return rs.GetSpec().GetReplicas()
}

// PodFromTemplate returns a new pod of a template.
func PodFromTemplate(t *waskv1.PodTemplateSpec, namespace, name string, owner *waskv1.OwnerReference) *waskv1.Pod {
	tm := t.GetMetadata()
	md := &waskv1.ObjectMeta{Name: name, Namespace: namespace, OwnerReferences: []*waskv1.OwnerReference{owner}}
	if len(tm.GetLabels()) > 0 {
		md.Labels = make(map[string]string, len(tm.GetLabels()))
		for k, v := range tm.GetLabels() {
			md.Labels[k] = v
		}
	}
	if len(tm.GetAnnotations()) > 0 {
		md.Annotations = make(map[string]string, len(tm.GetAnnotations()))
		for k, v := range tm.GetAnnotations() {
			md.Annotations[k] = v
		}
	}
	return &waskv1.Pod{Metadata: md, Spec: proto.CloneOf(t.GetSpec())}
}

// ScaleDownOrder sorts pods (a copy) so that the ones to delete first come
// first: unbound before bound, Pending before Unknown before Running, not
// ready before ready, ready for less time before longer, newer before
// older; then by name, so the order is deterministic.
func ScaleDownOrder(pods []*waskv1.Pod, now time.Time) []*waskv1.Pod {
	out := append([]*waskv1.Pod(nil), pods...)
	phaseRank := map[string]int{"Pending": 0, "Unknown": 1, "Running": 2}
	readySince := func(p *waskv1.Pod) time.Time {
		if c := ctrl.Condition(p.GetStatus().GetConditions(), "Ready"); c.GetStatus() == "True" && c.GetLastTransitionTime() != nil {
			return c.GetLastTransitionTime().AsTime()
		}
		return now
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ab, bb := a.GetSpec().GetNodeName() != "", b.GetSpec().GetNodeName() != ""; ab != bb {
			return !ab
		}
		if pa, pb := phaseRank[a.GetStatus().GetPhase()], phaseRank[b.GetStatus().GetPhase()]; pa != pb {
			return pa < pb
		}
		if ra, rb := ctrl.PodReady(a), ctrl.PodReady(b); ra != rb {
			return !ra
		}
		if sa, sb := readySince(a), readySince(b); !sa.Equal(sb) {
			return sa.After(sb)
		}
		if ca, cb := a.GetMetadata().GetCreationTimestamp().AsTime(), b.GetMetadata().GetCreationTimestamp().AsTime(); !ca.Equal(cb) {
			return ca.After(cb)
		}
		return a.GetMetadata().GetName() > b.GetMetadata().GetName()
	})
	return out
}

// updateStatus writes the ReplicaSet's status if it changed, and returns
// when a ready pod becomes available.
func (r *controller) updateStatus(ctx context.Context, rs *waskv1.ReplicaSet, active []*waskv1.Pod, werr error, now time.Time) (time.Duration, error) {
	st := &waskv1.ReplicaSetStatus{Replicas: int32(len(active)), ObservedGeneration: rs.GetMetadata().GetGeneration()}
	minReady := time.Duration(rs.GetSpec().GetMinReadySeconds()) * time.Second
	var requeue time.Duration
	for _, p := range active {
		if ctrl.PodReady(p) {
			st.ReadyReplicas++
		}
		if ok, left := ctrl.PodAvailable(p, minReady, now); ok {
			st.AvailableReplicas++
		} else if left > 0 && (requeue == 0 || left < requeue) {
			requeue = left
		}
	}
	st.Conditions = append(st.Conditions, rs.GetStatus().GetConditions()...)
	ctrl.SetFailure(&st.Conditions, werr, now)
	if proto.Equal(st, rs.GetStatus()) {
		return requeue, nil
	}
	next := proto.CloneOf(rs)
	next.Status = st
	if _, err := client.UpdateStatus(ctx, r.env.Client, next); ctrl.IgnoreNotFound(err) != nil {
		return 0, fmt.Errorf("update status of replicaset %s/%s: %w", rs.GetMetadata().GetNamespace(), rs.GetMetadata().GetName(), err)
	}
	return requeue, nil
}
