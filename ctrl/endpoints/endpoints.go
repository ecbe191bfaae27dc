package endpoints

import (
	"context"
	"fmt"
	"sort"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
)

// Name is the controller's name in metrics, logs and Events.
const Name = "endpoints-controller"

// Options tune the controller.
type Options struct {
	// Workers reconcile Services in parallel. Default 4.
	Workers int
}

type controller struct {
	env   *ctrl.Env
	svcs  *client.Informer
	pods  *client.Informer
	nodes *client.Informer
	eps   *client.Informer
}

// New returns the Endpoints controller.
func New(env *ctrl.Env, opts Options) *ctrl.Controller {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	r := &controller{env: env, svcs: env.Informers.For("Service"), pods: env.Informers.For("Pod"), nodes: env.Informers.For("Node"), eps: env.Informers.For("Endpoints")}
	c := env.NewController(Name, opts.Workers, r.reconcile)
	enqueue := func(o *waskv1.Object) { c.Enqueue(client.Key(o)) }
	r.svcs.AddHandler(client.Handler{OnAdd: enqueue, OnUpdate: func(_, o *waskv1.Object) { enqueue(o) }, OnDelete: enqueue})
	r.eps.AddHandler(client.Handler{OnUpdate: func(_, o *waskv1.Object) { enqueue(o) }, OnDelete: enqueue})
	// A pod change concerns the Services selecting it, before or after.
	podChanged := func(old, o *waskv1.Object) {
		ns := o.Metadata().GetNamespace()
		for _, so := range r.svcs.List() {
			s := so.GetService()
			if s.GetMetadata().GetNamespace() != ns || len(s.GetSpec().GetSelector()) == 0 {
				continue
			}
			sel := &waskv1.LabelSelector{MatchLabels: s.GetSpec().GetSelector()}
			if ctrl.Selects(sel, o.Metadata().GetLabels()) || (old != nil && ctrl.Selects(sel, old.Metadata().GetLabels())) {
				enqueue(so)
			}
		}
	}
	r.pods.AddHandler(client.Handler{
		OnAdd:    func(o *waskv1.Object) { podChanged(nil, o) },
		OnUpdate: podChanged,
		OnDelete: func(o *waskv1.Object) { podChanged(nil, o) },
	})
	// A node's mesh address is part of its pods' endpoints.
	r.nodes.AddHandler(client.Handler{
		OnAdd: func(*waskv1.Object) {
			for _, s := range r.svcs.List() {
				enqueue(s)
			}
		},
		OnUpdate: func(old, o *waskv1.Object) {
			if meshAddress(old.GetNode()) != meshAddress(o.GetNode()) {
				for _, s := range r.svcs.List() {
					enqueue(s)
				}
			}
		},
	})
	return c
}

func meshAddress(n *waskv1.Node) string {
	for _, a := range n.GetStatus().GetAddresses() {
		if a.GetType() == "Mesh" {
			return a.GetAddress()
		}
	}
	return ""
}

func (r *controller) reconcile(ctx context.Context, key string) (ctrl.Result, error) {
	ns, name := ctrl.SplitKey(key)
	so, ok := r.svcs.Get(ns, name)
	cur, exists := r.eps.Get(ns, name)
	if !ok || len(so.GetService().GetSpec().GetSelector()) == 0 {
		if ok || !exists {
			return ctrl.Result{}, nil // no selector: not ours to manage
		}
		// The Service is gone: so are its Endpoints.
		_, err := ctrl.Delete(ctx, r.env.Client, "Endpoints", ns, name, ctrl.DeleteOptions{UID: cur.Metadata().GetUid()})
		return ctrl.Result{}, err
	}
	svc := so.GetService()
	want := r.desired(svc)
	if !exists {
		_, err := client.Create(ctx, r.env.Client, want)
		if connect.CodeOf(err) == connect.CodeAlreadyExists {
			return ctrl.Result{}, fmt.Errorf("create endpoints %s: not yet in the cache: %w", key, err)
		}
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("create endpoints %s: %w", key, err)
		}
		return ctrl.Result{}, nil
	}
	ep := cur.GetEndpoints()
	if proto.Equal(&waskv1.Endpoints{Addresses: ep.GetAddresses(), Ports: ep.GetPorts()}, &waskv1.Endpoints{Addresses: want.GetAddresses(), Ports: want.GetPorts()}) &&
		ctrl.IsControlledBy(ep.GetMetadata(), svc.GetMetadata().GetUid()) {
		return ctrl.Result{}, nil
	}
	next := proto.CloneOf(ep)
	next.Addresses, next.Ports = want.Addresses, want.Ports
	next.Metadata.OwnerReferences = want.Metadata.OwnerReferences
	if _, err := client.Update(ctx, r.env.Client, next); ctrl.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("update endpoints %s: %w", key, err)
	}
	return ctrl.Result{}, nil
}

// desired returns the Endpoints a Service should have now.
func (r *controller) desired(svc *waskv1.Service) *waskv1.Endpoints {
	md := svc.GetMetadata()
	sel := &waskv1.LabelSelector{MatchLabels: svc.GetSpec().GetSelector()}
	ep := &waskv1.Endpoints{Metadata: &waskv1.ObjectMeta{
		Name: md.GetName(), Namespace: md.GetNamespace(),
		OwnerReferences: []*waskv1.OwnerReference{{Kind: "Service", Name: md.GetName(), Uid: md.GetUid(), Controller: true}},
	}}
	for _, po := range r.pods.List() {
		p := po.GetPod()
		pm := p.GetMetadata()
		if pm.GetNamespace() != md.GetNamespace() || p.GetSpec().GetNodeName() == "" || !ctrl.PodActive(p) || !ctrl.Selects(sel, pm.GetLabels()) {
			continue
		}
		addr := ""
		if no, ok := r.nodes.Get("", p.GetSpec().GetNodeName()); ok {
			addr = meshAddress(no.GetNode())
		}
		ep.Addresses = append(ep.Addresses, &waskv1.EndpointAddress{
			PodName: pm.GetName(), PodUid: pm.GetUid(), NodeName: p.GetSpec().GetNodeName(), Address: addr, Ready: ctrl.PodReady(p),
		})
	}
	sort.Slice(ep.Addresses, func(i, j int) bool { return ep.Addresses[i].GetPodName() < ep.Addresses[j].GetPodName() })
	for _, sp := range svc.GetSpec().GetPorts() {
		ep.Ports = append(ep.Ports, &waskv1.EndpointPort{Name: sp.GetName(), Port: sp.GetPort()})
	}
	if len(ep.Ports) == 0 {
		ep.Ports = []*waskv1.EndpointPort{{Port: 80}}
	}
	return ep
}
