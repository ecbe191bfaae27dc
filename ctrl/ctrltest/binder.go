package ctrltest

import (
	"context"
	"sync"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
)

// Binder stands in for the scheduler: it binds each unbound pod to the
// next Ready node without a NoExecute taint, round-robin.
type Binder struct {
	// Client is an admin client.
	Client *client.Client
}

// Run binds until ctx ends.
func (b *Binder) Run(ctx context.Context) error {
	nodes, err := client.NewInformer(b.Client, client.InformerOptions{Kind: "Node"})
	if err != nil {
		return err
	}
	pods, err := client.NewInformer(b.Client, client.InformerOptions{Kind: "Pod", FieldSelector: "spec.nodeName="})
	if err != nil {
		return err
	}
	q := client.NewQueue[string](client.QueueOptions{})
	enqueue := func(o *waskv1.Object) { q.Add(client.Key(o)) }
	pods.AddHandler(client.Handler{OnAdd: enqueue, OnUpdate: func(_, o *waskv1.Object) { enqueue(o) }})
	requeueAll := func(*waskv1.Object) {
		for _, o := range pods.List() {
			enqueue(o)
		}
	}
	nodes.AddHandler(client.Handler{OnAdd: requeueAll, OnUpdate: func(_, o *waskv1.Object) { requeueAll(o) }})
	var wg sync.WaitGroup
	wg.Go(func() { _ = nodes.Run(ctx) })
	wg.Go(func() { _ = pods.Run(ctx) })
	next := 0
	for {
		key, ok := q.Get(ctx)
		if !ok {
			break
		}
		ns, name := ctrl.SplitKey(key)
		if o, ok := pods.Get(ns, name); ok && o.GetPod().GetSpec().GetNodeName() == "" && !ctrl.Terminating(o.Metadata()) {
			var ready []string
			for _, no := range nodes.List() {
				if Schedulable(no.GetNode()) {
					ready = append(ready, no.GetNode().GetMetadata().GetName())
				}
			}
			if len(ready) > 0 {
				node := ready[next%len(ready)]
				next++
				resp, err := b.Client.Objects.Bind(ctx, connect.NewRequest(&waskv1.BindRequest{Bindings: []*waskv1.Binding{{
					Namespace: ns, Name: name, Uid: o.Metadata().GetUid(), NodeName: node,
				}}}))
				if err != nil || (resp.Msg.GetResults()[0].GetCode() != "" && resp.Msg.GetResults()[0].GetCode() != "not_found" && resp.Msg.GetResults()[0].GetCode() != "failed_precondition") {
					q.AddRateLimited(key)
				}
			}
		}
		q.Done(key)
	}
	q.ShutDown()
	wg.Wait()
	return nil
}

// Schedulable reports whether a node is Ready and has no NoExecute or
// NoSchedule taint.
func Schedulable(n *waskv1.Node) bool {
	if ctrl.Condition(n.GetStatus().GetConditions(), "Ready").GetStatus() != "True" || n.GetSpec().GetUnschedulable() {
		return false
	}
	for _, t := range n.GetSpec().GetTaints() {
		if t.GetEffect() == "NoExecute" || t.GetEffect() == "NoSchedule" {
			return false
		}
	}
	return true
}
