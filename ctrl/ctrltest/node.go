package ctrltest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
)

// LeaseNamespace is where nodes keep their Leases.
const LeaseNamespace = "wask-node-lease"

// Prepare creates the namespaces the simulation needs (with an admin
// client): the node-lease namespace.
func Prepare(ctx context.Context, admin *client.Client) error {
	_, err := client.Create(ctx, admin, &waskv1.Namespace{Metadata: &waskv1.ObjectMeta{Name: LeaseNamespace}})
	return ctrl.IgnoreExists(err)
}

// NodeConfig describes a simulated node.
type NodeConfig struct {
	Name string
	// Client acts as the node (testcluster's NodeClient).
	Client *client.Client
	// RenewInterval between Lease renewals. Default 100 ms.
	RenewInterval time.Duration
	// Ready says whether a pod becomes Ready once Running. Nil: all do.
	Ready func(*waskv1.Pod) bool
	// Finish, for command pods, returns the phase the pod ends in
	// ("Succeeded", "Failed") or "" to keep it Running. Nil: "".
	Finish func(*waskv1.Pod) string
	// StopDelay is how long a pod being deleted keeps running (serving)
	// before the node removes it. Default 0.
	StopDelay time.Duration
	// Labels of the Node.
	Labels map[string]string
}

// Node is a simulated wasmlet.
type Node struct {
	cfg      NodeConfig
	renewing atomic.Bool
	stopped  sync.Map // pod uid → true once stopped
}

// NewNode returns a node that renews its lease once it runs.
func NewNode(cfg NodeConfig) *Node {
	if cfg.RenewInterval == 0 {
		cfg.RenewInterval = 100 * time.Millisecond
	}
	n := &Node{cfg: cfg}
	n.renewing.Store(true)
	return n
}

// Name returns the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// MeshAddress is the address the node advertises for its mesh.
func (n *Node) MeshAddress() string { return n.cfg.Name + ".mesh.test:7443" }

// SetRenewing turns lease renewals on or off (off: a partitioned or hung
// node, whose pods keep running).
func (n *Node) SetRenewing(on bool) { n.renewing.Store(on) }

// Run registers the node and runs it until ctx ends (a crash, when the
// caller cancels it: nothing is cleaned up).
func (n *Node) Run(ctx context.Context) error {
	c := n.cfg.Client
	now := timestamppb.Now()
	node := &waskv1.Node{
		Metadata: &waskv1.ObjectMeta{Name: n.cfg.Name, Labels: n.cfg.Labels},
	}
	if _, err := client.Create(ctx, c, node); ctrl.IgnoreExists(err) != nil {
		return fmt.Errorf("register node %s: %w", n.cfg.Name, err)
	}
	cur, err := client.Get[*waskv1.Node](ctx, c, "", n.cfg.Name)
	if err != nil {
		return err
	}
	cur.Status = &waskv1.NodeStatus{
		Capacity:     map[string]string{"pods": "10000", "memory": "64Gi"},
		Allocatable:  map[string]string{"pods": "10000", "memory": "64Gi"},
		Capabilities: &waskv1.NodeCapabilities{Modes: []string{"command", "http-cgi", "http-reactor"}},
		Addresses:    []*waskv1.NodeAddress{{Type: "Mesh", Address: n.MeshAddress()}},
		Conditions:   []*waskv1.Condition{{Type: "Ready", Status: "True", Reason: "WasmletReady", LastTransitionTime: now, LastUpdateTime: now}},
	}
	cur.Metadata.Revision = ""
	if _, err := client.UpdateStatus(ctx, c, cur); err != nil {
		return fmt.Errorf("node %s status: %w", n.cfg.Name, err)
	}
	pods, err := client.NewInformer(c, client.InformerOptions{Kind: "Pod", FieldSelector: "spec.nodeName=" + n.cfg.Name})
	if err != nil {
		return err
	}
	q := client.NewQueue[string](client.QueueOptions{})
	enqueue := func(o *waskv1.Object) { q.Add(client.Key(o)) }
	pods.AddHandler(client.Handler{OnAdd: enqueue, OnUpdate: func(_, o *waskv1.Object) { enqueue(o) }})
	var wg sync.WaitGroup
	wg.Go(func() { _ = pods.Run(ctx) })
	wg.Go(func() { n.renew(ctx) })
	for range 4 {
		wg.Go(func() {
			for {
				key, ok := q.Get(ctx)
				if !ok {
					return
				}
				if err := n.handle(ctx, pods, q, key); err != nil && ctx.Err() == nil {
					q.AddRateLimited(key)
				} else {
					q.Forget(key)
				}
				q.Done(key)
			}
		})
	}
	<-ctx.Done()
	q.ShutDown()
	wg.Wait()
	return nil
}

func (n *Node) renew(ctx context.Context) {
	t := time.NewTicker(n.cfg.RenewInterval)
	defer t.Stop()
	for {
		if n.renewing.Load() {
			n.renewOnce(ctx)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func (n *Node) renewOnce(ctx context.Context) {
	now := timestamppb.Now()
	l, err := client.Get[*waskv1.Lease](ctx, n.cfg.Client, LeaseNamespace, n.cfg.Name)
	if connect.CodeOf(err) == connect.CodeNotFound {
		_, _ = client.Create(ctx, n.cfg.Client, &waskv1.Lease{
			Metadata: &waskv1.ObjectMeta{Name: n.cfg.Name, Namespace: LeaseNamespace},
			Spec:     &waskv1.LeaseSpec{HolderIdentity: n.cfg.Name, LeaseDurationSeconds: 3, AcquireTime: now, RenewTime: now},
		})
		return
	}
	if err != nil {
		return
	}
	l.Spec.RenewTime = now
	_, _ = client.Update(ctx, n.cfg.Client, l)
}

// handle moves one bound pod along its life.
func (n *Node) handle(ctx context.Context, pods *client.Informer, q *client.Queue[string], key string) error {
	ns, name := ctrl.SplitKey(key)
	o, ok := pods.Get(ns, name)
	if !ok {
		return nil
	}
	p := o.GetPod()
	if ctrl.Terminating(p.GetMetadata()) {
		left := time.Until(p.GetMetadata().GetDeletionTimestamp().AsTime().Add(n.cfg.StopDelay))
		if left > 0 {
			q.AddAfter(key, left)
			return nil
		}
		zero := int64(0)
		_, err := ctrl.Delete(ctx, n.cfg.Client, "Pod", ns, name, ctrl.DeleteOptions{UID: p.GetMetadata().GetUid(), GracePeriod: &zero})
		return err
	}
	if ctrl.PodFinished(p) {
		return nil
	}
	now := timestamppb.Now()
	st := proto.CloneOf(p.GetStatus())
	if st == nil {
		st = &waskv1.PodStatus{}
	}
	st.Phase = "Running"
	if st.StartTime == nil {
		st.StartTime = now
	}
	ready := n.cfg.Ready == nil || n.cfg.Ready(p)
	if p.GetSpec().GetMode() == "command" && n.cfg.Finish != nil {
		if ph := n.cfg.Finish(p); ph != "" {
			st.Phase, ready = ph, false
		}
	}
	status := map[bool]string{true: "True", false: "False"}[ready]
	ctrl.SetCondition(&st.Conditions, &waskv1.Condition{Type: "Ready", Status: status, LastTransitionTime: now})
	if proto.Equal(st, p.GetStatus()) {
		return nil
	}
	next := proto.CloneOf(p)
	next.Status = st
	_, err := client.UpdateStatus(ctx, n.cfg.Client, next)
	return ctrl.IgnoreNotFound(err)
}
