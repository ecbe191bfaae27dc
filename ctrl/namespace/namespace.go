package namespace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
)

// Name is the controller's name in metrics, logs and Events.
const Name = "namespace-controller"

// Finalizer holds a deleted namespace until it is empty.
const Finalizer = "wask.dev/namespace"

// Options tune the controller.
type Options struct {
	// Workers reconcile namespaces in parallel. Default 2.
	Workers int
	// RecheckPeriod is how often a Terminating namespace that is not yet
	// empty is looked at again. Default 250 ms.
	RecheckPeriod time.Duration
}

type controller struct {
	env  *ctrl.Env
	opts Options
	nss  *client.Informer
}

// New returns the Namespace controller.
func New(env *ctrl.Env, opts Options) *ctrl.Controller {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.RecheckPeriod <= 0 {
		opts.RecheckPeriod = 250 * time.Millisecond
	}
	r := &controller{env: env, opts: opts, nss: env.Informers.For("Namespace")}
	c := env.NewController(Name, opts.Workers, r.reconcile)
	enqueue := func(o *waskv1.Object) { c.Enqueue(client.Key(o)) }
	r.nss.AddHandler(client.Handler{OnAdd: enqueue, OnUpdate: func(_, o *waskv1.Object) { enqueue(o) }, OnDelete: enqueue})
	return c
}

func (r *controller) reconcile(ctx context.Context, name string) (ctrl.Result, error) {
	o, ok := r.nss.Get("", name)
	if !ok {
		// Gone (perhaps deleted before it had the finalizer): make sure
		// nothing is left in it.
		if _, err := client.Get[*waskv1.Namespace](ctx, r.env.Client, "", name); ctrl.IgnoreNotFound(err) != nil || err == nil {
			return ctrl.Result{}, err
		}
		left, err := r.purge(ctx, name)
		if err != nil || left > 0 {
			return ctrl.Result{RequeueAfter: r.opts.RecheckPeriod}, err
		}
		return ctrl.Result{}, nil
	}
	ns := o.GetNamespace()
	md := ns.GetMetadata()
	if !ctrl.Terminating(md) {
		if slices.Contains(md.GetFinalizers(), Finalizer) {
			return ctrl.Result{}, nil
		}
		next := proto.CloneOf(ns)
		next.Metadata.Finalizers = append(next.Metadata.Finalizers, Finalizer)
		if _, err := client.Update(ctx, r.env.Client, next); ctrl.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer to namespace %s: %w", name, err)
		}
		return ctrl.Result{}, nil
	}
	if !slices.Contains(md.GetFinalizers(), Finalizer) {
		return ctrl.Result{}, nil
	}
	left, err := r.purge(ctx, name)
	if err != nil {
		return ctrl.Result{}, err
	}
	if left > 0 {
		return ctrl.Result{RequeueAfter: r.opts.RecheckPeriod}, nil
	}
	next := proto.CloneOf(ns)
	next.Metadata.Finalizers = slices.DeleteFunc(next.Metadata.Finalizers, func(f string) bool { return f == Finalizer })
	if _, err := client.Update(ctx, r.env.Client, next); ctrl.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("remove the finalizer of namespace %s: %w", name, err)
	}
	r.env.Logger.Info("namespace emptied and deleted", "namespace", name)
	return ctrl.Result{}, nil
}

// purge deletes every object in namespace (a live list of each namespaced
// kind) and returns how many are left (being deleted, or just failed).
func (r *controller) purge(ctx context.Context, namespace string) (int, error) {
	left := 0
	var errs []error
	for _, k := range waskv1.Kinds() {
		if !k.Namespaced {
			continue
		}
		resp, err := listKind(ctx, r.env.Client, k.Kind, namespace)
		if err != nil {
			return 0, fmt.Errorf("list %s in namespace %s: %w", k.Plural, namespace, err)
		}
		for _, o := range resp {
			left++
			md := o.Metadata()
			if ctrl.Terminating(md) {
				continue
			}
			if _, err := ctrl.Delete(ctx, r.env.Client, k.Kind, namespace, md.GetName(), ctrl.DeleteOptions{UID: md.GetUid()}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return left, errors.Join(errs...)
}

// listKind lists the objects of a kind in a namespace, page by page.
func listKind(ctx context.Context, c *client.Client, kind, namespace string) ([]*waskv1.Object, error) {
	req := &waskv1.ListRequest{Kind: kind, Namespace: namespace, Limit: 500}
	var out []*waskv1.Object
	for {
		resp, err := c.Objects.List(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		out = append(out, resp.Msg.GetItems()...)
		if resp.Msg.GetContinue() == "" {
			return out, nil
		}
		req.Continue = resp.Msg.GetContinue()
	}
}
