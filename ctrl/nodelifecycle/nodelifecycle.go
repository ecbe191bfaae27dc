package nodelifecycle

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
)

// Name is the controller's name in metrics, logs and Events.
const Name = "node-lifecycle-controller"

// TaintKey is the key of the taint on a node whose lease expired.
const TaintKey = "wask.dev/unreachable"

// Options tune the controller.
type Options struct {
	// LeaseNamespace holds the nodes' Leases. Default "wask-node-lease".
	LeaseNamespace string
	// GracePeriod without a lease renewal after which a node is NotReady.
	// Default 3 s (three missed renewals at the default 1 s).
	GracePeriod time.Duration
	// DefaultToleration is how long a pod without a toleration of the
	// unreachable taint stays on a NotReady node. Default 2 s.
	DefaultToleration time.Duration
	// EvictionRate is how many nodes a second may start having their pods
	// evicted, EvictionBurst how many at once. Defaults 1 and 1.
	EvictionRate  float64
	EvictionBurst int
	// UnhealthyThreshold: when more than this fraction of the nodes are
	// NotReady, nothing is evicted. Default 0.55.
	UnhealthyThreshold float64
	// Workers reconcile nodes in parallel. Default 4.
	Workers int
}

func (o *Options) defaults() {
	if o.LeaseNamespace == "" {
		o.LeaseNamespace = "wask-node-lease"
	}
	if o.GracePeriod <= 0 {
		o.GracePeriod = 3 * time.Second
	}
	if o.DefaultToleration <= 0 {
		o.DefaultToleration = 2 * time.Second
	}
	if o.EvictionRate <= 0 {
		o.EvictionRate = 1
	}
	if o.EvictionBurst <= 0 {
		o.EvictionBurst = 1
	}
	if o.UnhealthyThreshold <= 0 {
		o.UnhealthyThreshold = 0.55
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
}

type seen struct {
	revision string
	at       time.Time
}

type controller struct {
	env    *ctrl.Env
	opts   Options
	nodes  *client.Informer
	leases *client.Informer
	pods   *client.Informer
	bucket *bucket
	c      *ctrl.Controller

	mu        sync.Mutex
	renewals  map[string]seen            // node → last lease revision seen and when
	firstSeen map[string]time.Time       // node → when first seen (no lease yet)
	podsOn    map[string]map[string]bool // node → pod keys bound to it
	admitted  map[string]bool            // nodes whose evictions took a token
	halted    bool
	notified  map[string]bool // nodes told about the current halt
}

// New returns the node lifecycle controller.
func New(env *ctrl.Env, opts Options) *ctrl.Controller {
	opts.defaults()
	r := &controller{
		env: env, opts: opts,
		nodes: env.Informers.For("Node"), leases: env.Informers.For("Lease"), pods: env.Informers.For("Pod"),
		bucket:   newBucket(opts.EvictionRate, opts.EvictionBurst, env.Now()),
		renewals: map[string]seen{}, firstSeen: map[string]time.Time{}, podsOn: map[string]map[string]bool{}, admitted: map[string]bool{}, notified: map[string]bool{},
	}
	r.c = env.NewController(Name, opts.Workers, r.reconcile)
	enqueue := func(o *waskv1.Object) { r.c.Enqueue(client.Key(o)) }
	r.nodes.AddHandler(client.Handler{OnAdd: enqueue, OnDelete: enqueue})
	lease := func(o *waskv1.Object) {
		md := o.Metadata()
		if md.GetNamespace() != opts.LeaseNamespace {
			return
		}
		r.mu.Lock()
		if r.renewals[md.GetName()].revision != md.GetRevision() {
			r.renewals[md.GetName()] = seen{revision: md.GetRevision(), at: env.Now()}
		}
		r.mu.Unlock()
		r.c.Enqueue(md.GetName())
	}
	r.leases.AddHandler(client.Handler{OnAdd: lease, OnUpdate: func(_, o *waskv1.Object) { lease(o) }})
	index := func(o *waskv1.Object, bound bool) {
		node := o.GetPod().GetSpec().GetNodeName()
		if node == "" {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if bound {
			if r.podsOn[node] == nil {
				r.podsOn[node] = map[string]bool{}
			}
			r.podsOn[node][client.Key(o)] = true
		} else {
			delete(r.podsOn[node], client.Key(o))
		}
	}
	r.pods.AddHandler(client.Handler{
		OnAdd:    func(o *waskv1.Object) { index(o, true) },
		OnUpdate: func(_, o *waskv1.Object) { index(o, true) },
		OnDelete: func(o *waskv1.Object) { index(o, false) },
	})
	return r.c
}

// lastRenewal returns when the node's lease was last seen renewed (or the
// node first seen, if it has no lease yet).
func (r *controller) lastRenewal(node string, now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.renewals[node]; ok {
		return s.at
	}
	if t, ok := r.firstSeen[node]; ok {
		return t
	}
	r.firstSeen[node] = now
	return now
}

func (r *controller) healthy(node string, now time.Time) bool {
	return now.Sub(r.lastRenewal(node, now)) < r.opts.GracePeriod
}

func (r *controller) reconcile(ctx context.Context, name string) (ctrl.Result, error) {
	o, ok := r.nodes.Get("", name)
	if !ok {
		r.mu.Lock()
		delete(r.renewals, name)
		delete(r.firstSeen, name)
		delete(r.admitted, name)
		r.mu.Unlock()
		return ctrl.Result{}, nil
	}
	node := o.GetNode()
	now := r.env.Now()
	if r.healthy(name, now) {
		r.mu.Lock()
		delete(r.admitted, name)
		r.mu.Unlock()
		if err := r.markReady(ctx, node, now); err != nil {
			return ctrl.Result{}, err
		}
		// Check again when the lease would expire.
		return ctrl.Result{RequeueAfter: r.lastRenewal(name, now).Add(r.opts.GracePeriod).Sub(now) + time.Millisecond}, nil
	}
	taint, err := r.markNotReady(ctx, node, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	next, err := r.evict(ctx, node, taint, now)
	return ctrl.Result{RequeueAfter: next}, err
}

// markReady removes what markNotReady did, once the lease is renewed.
func (r *controller) markReady(ctx context.Context, node *waskv1.Node, now time.Time) error {
	if c := ctrl.Condition(node.GetStatus().GetConditions(), "Ready"); c.GetStatus() == "Unknown" && c.GetReason() == "NodeLeaseExpired" {
		next := proto.CloneOf(node)
		ctrl.SetCondition(&next.Status.Conditions, &waskv1.Condition{Type: "Ready", Status: "True", Reason: "NodeLeaseRenewed",
			Message: "The node renews its lease again.", LastTransitionTime: timestamppb.New(now), LastUpdateTime: timestamppb.New(now)})
		got, err := client.UpdateStatus(ctx, r.env.Client, next)
		if err != nil {
			return fmt.Errorf("mark node %s ready: %w", node.GetMetadata().GetName(), err)
		}
		node = got
		r.env.Events.Event(ctx, Name, ctrl.Ref("Node", node.GetMetadata()), "Normal", "NodeReady", "Node renews its lease again")
	}
	if !slices.ContainsFunc(node.GetSpec().GetTaints(), isOurTaint) {
		return nil
	}
	next := proto.CloneOf(node)
	next.Spec.Taints = slices.DeleteFunc(next.Spec.Taints, isOurTaint)
	if _, err := client.Update(ctx, r.env.Client, next); ctrl.IgnoreNotFound(err) != nil {
		return fmt.Errorf("untaint node %s: %w", node.GetMetadata().GetName(), err)
	}
	return nil
}

func isOurTaint(t *waskv1.Taint) bool { return t.GetKey() == TaintKey && t.GetEffect() == "NoExecute" }

// markNotReady sets Ready=Unknown and the unreachable taint, and returns
// the taint.
func (r *controller) markNotReady(ctx context.Context, node *waskv1.Node, now time.Time) (*waskv1.Taint, error) {
	name := node.GetMetadata().GetName()
	if c := ctrl.Condition(node.GetStatus().GetConditions(), "Ready"); c.GetStatus() != "Unknown" {
		next := proto.CloneOf(node)
		if next.Status == nil {
			next.Status = &waskv1.NodeStatus{}
		}
		ctrl.SetCondition(&next.Status.Conditions, &waskv1.Condition{Type: "Ready", Status: "Unknown", Reason: "NodeLeaseExpired",
			Message: fmt.Sprintf("The node has not renewed its lease for %v.", r.opts.GracePeriod), LastTransitionTime: timestamppb.New(now), LastUpdateTime: timestamppb.New(now)})
		got, err := client.UpdateStatus(ctx, r.env.Client, next)
		if err != nil {
			return nil, fmt.Errorf("mark node %s not ready: %w", name, err)
		}
		node = got
		r.env.Events.Event(ctx, Name, ctrl.Ref("Node", node.GetMetadata()), "Warning", "NodeNotReady", fmt.Sprintf("Node stopped renewing its lease for %v", r.opts.GracePeriod))
	}
	if i := slices.IndexFunc(node.GetSpec().GetTaints(), isOurTaint); i >= 0 {
		return node.GetSpec().GetTaints()[i], nil
	}
	next := proto.CloneOf(node)
	if next.Spec == nil {
		next.Spec = &waskv1.NodeSpec{}
	}
	taint := &waskv1.Taint{Key: TaintKey, Effect: "NoExecute", TimeAdded: timestamppb.New(now)}
	next.Spec.Taints = append(next.Spec.Taints, taint)
	if _, err := client.Update(ctx, r.env.Client, next); err != nil {
		return nil, fmt.Errorf("taint node %s: %w", name, err)
	}
	return taint, nil
}

// evict deletes the pods of a NotReady node whose toleration has run out,
// unless too many nodes are NotReady; it returns when to look again.
func (r *controller) evict(ctx context.Context, node *waskv1.Node, taint *waskv1.Taint, now time.Time) (time.Duration, error) {
	name := node.GetMetadata().GetName()
	recheck := r.opts.GracePeriod / 3
	total, notReady := 0, 0
	for _, no := range r.nodes.List() {
		total++
		if !r.healthy(no.Metadata().GetName(), now) {
			notReady++
		}
	}
	halt := float64(notReady) > r.opts.UnhealthyThreshold*float64(total)
	r.mu.Lock()
	changed := halt != r.halted
	r.halted = halt
	notify := halt && !r.notified[name]
	if halt {
		r.notified[name] = true
	} else {
		clear(r.notified)
	}
	r.mu.Unlock()
	ref := ctrl.Ref("Node", node.GetMetadata())
	if halt {
		if changed {
			r.env.Logger.Warn("evictions halted: too many nodes NotReady", "notReady", notReady, "nodes", total)
		}
		if !notify {
			return recheck, nil
		}
		r.env.Events.Event(ctx, Name, ref, "Warning", "EvictionHalted", fmt.Sprintf(
			"%d of %d nodes are NotReady, more than %.0f%%: likely a partition between the control plane and the nodes, not node failures; no pods are evicted until fewer nodes are NotReady",
			notReady, total, r.opts.UnhealthyThreshold*100))
		return recheck, nil
	}
	if changed {
		r.env.Events.Event(ctx, Name, ref, "Normal", "EvictionResumed", fmt.Sprintf("%d of %d nodes are NotReady: evictions resume", notReady, total))
	}
	r.mu.Lock()
	keys := make([]string, 0, len(r.podsOn[name]))
	for k := range r.podsOn[name] {
		keys = append(keys, k)
	}
	admitted := r.admitted[name]
	r.mu.Unlock()
	var due []*waskv1.Pod
	next := time.Duration(0)
	for _, k := range keys {
		po, ok := r.pods.Get(ctrl.SplitKey(k))
		if !ok || ctrl.Terminating(po.Metadata()) || po.GetPod().GetSpec().GetNodeName() != name {
			continue
		}
		tol, forever := Toleration(po.GetPod(), taint, r.opts.DefaultToleration)
		if forever {
			continue
		}
		if left := taint.GetTimeAdded().AsTime().Add(tol).Sub(now); left > 0 {
			if next == 0 || left < next {
				next = left
			}
			continue
		}
		due = append(due, po.GetPod())
	}
	if len(due) == 0 {
		return max(next, 0), nil
	}
	if !admitted {
		ok, wait := r.bucket.take(now)
		if !ok {
			return wait, nil
		}
		r.mu.Lock()
		r.admitted[name] = true
		r.mu.Unlock()
	}
	zero := int64(0)
	rev, err := ctrl.Writes(ctx, len(due), 64, func(ctx context.Context, i int) (string, error) {
		md := due[i].GetMetadata()
		return ctrl.Delete(ctx, r.env.Client, "Pod", md.GetNamespace(), md.GetName(), ctrl.DeleteOptions{UID: md.GetUid(), GracePeriod: &zero})
	})
	if n := len(due); err == nil || n > 1 {
		r.env.Events.Event(ctx, Name, ref, "Warning", "EvictingPods", fmt.Sprintf("Evicting %d pods from NotReady node %s", n, name))
	}
	if err != nil {
		return 0, fmt.Errorf("evict pods of node %s: %w", name, err)
	}
	if err := r.env.Informers.WaitForRevision(ctx, "Pod", rev); err != nil {
		return 0, err
	}
	return max(next, 0), nil
}

// Toleration returns how long pod tolerates taint (def without a matching
// toleration), or forever.
func Toleration(pod *waskv1.Pod, taint *waskv1.Taint, def time.Duration) (d time.Duration, forever bool) {
	for _, t := range pod.GetSpec().GetTolerations() {
		if !tolerates(t, taint) {
			continue
		}
		if t.TolerationSeconds == nil {
			return 0, true
		}
		return time.Duration(max(t.GetTolerationSeconds(), 0)) * time.Second, false
	}
	return def, false
}

func tolerates(t *waskv1.Toleration, taint *waskv1.Taint) bool {
	if t.GetEffect() != "" && t.GetEffect() != taint.GetEffect() {
		return false
	}
	switch t.GetOperator() {
	case "Exists":
		return t.GetKey() == "" || t.GetKey() == taint.GetKey()
	default: // "Equal"
		return t.GetKey() == taint.GetKey() && t.GetValue() == taint.GetValue()
	}
}
