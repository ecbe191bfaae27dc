package gc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
)

// Name is the controller's name in metrics, logs and Events.
const Name = "garbage-collector"

// The finalizers the apiserver adds for the propagation policies.
const (
	ForegroundFinalizer = "wask.dev/foreground-deletion"
	OrphanFinalizer     = "wask.dev/orphan"
)

// Options tune the collector.
type Options struct {
	// Workers collect in parallel. Default 4.
	Workers int
	// Kinds followed. Default: every kind but Event.
	Kinds []string
}

type collector struct {
	env   *ctrl.Env
	kinds []string
	c     *ctrl.Controller
}

// New returns the garbage collector.
func New(env *ctrl.Env, opts Options) *ctrl.Controller {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Kinds == nil {
		for _, k := range waskv1.Kinds() {
			if k.Kind != "Event" {
				opts.Kinds = append(opts.Kinds, k.Kind)
			}
		}
	}
	g := &collector{env: env, kinds: opts.Kinds}
	g.c = env.NewController(Name, opts.Workers, g.reconcile)
	for _, kind := range opts.Kinds {
		inf := env.Informers.For(kind)
		changed := func(o *waskv1.Object) {
			md := o.Metadata()
			if len(md.GetOwnerReferences()) > 0 || ctrl.Terminating(md) {
				g.c.Enqueue(key(kind, client.Key(o)))
			}
			// A changed dependent may unblock an owner being deleted.
			for _, ref := range md.GetOwnerReferences() {
				g.c.Enqueue(key(ref.GetKind(), ctrl.Key(g.ownerNamespace(ref, md), ref.GetName())))
			}
		}
		deleted := func(o *waskv1.Object) {
			changed(o)
			// Its dependents may have lost their last owner.
			for _, dk := range g.kinds {
				for _, d := range env.Informers.Dependents(dk, o.Metadata().GetUid()) {
					g.c.Enqueue(key(dk, client.Key(d)))
				}
			}
		}
		inf.AddHandler(client.Handler{OnAdd: changed, OnUpdate: func(_, o *waskv1.Object) { changed(o) }, OnDelete: deleted})
	}
	return g.c
}

func key(kind, objKey string) string { return kind + "|" + objKey }

func (g *collector) ownerNamespace(ref *waskv1.OwnerReference, dependent *waskv1.ObjectMeta) string {
	if k, ok := waskv1.LookupKind(ref.GetKind()); ok && !k.Namespaced {
		return ""
	}
	return dependent.GetNamespace()
}

func (g *collector) reconcile(ctx context.Context, k string) (ctrl.Result, error) {
	kind, objKey, _ := strings.Cut(k, "|")
	if !slices.Contains(g.kinds, kind) {
		return ctrl.Result{}, nil
	}
	ns, name := ctrl.SplitKey(objKey)
	o, ok := g.env.Informers.For(kind).Get(ns, name)
	if !ok {
		return ctrl.Result{}, nil
	}
	md := o.Metadata()
	if ctrl.Terminating(md) {
		if slices.Contains(md.GetFinalizers(), OrphanFinalizer) {
			return ctrl.Result{}, g.orphan(ctx, kind, o)
		}
		if slices.Contains(md.GetFinalizers(), ForegroundFinalizer) {
			return ctrl.Result{}, g.foreground(ctx, kind, o)
		}
	}
	if len(md.GetOwnerReferences()) > 0 && !ctrl.Terminating(md) {
		return ctrl.Result{}, g.collect(ctx, kind, o)
	}
	return ctrl.Result{}, nil
}

// dependents returns every cached object naming uid as an owner, with its
// kind.
func (g *collector) dependents(uid string) (kinds []string, objs []*waskv1.Object) {
	for _, dk := range g.kinds {
		for _, d := range g.env.Informers.Dependents(dk, uid) {
			kinds = append(kinds, dk)
			objs = append(objs, d)
		}
	}
	return kinds, objs
}

// orphan removes the owner from its dependents, then its finalizer.
func (g *collector) orphan(ctx context.Context, kind string, owner *waskv1.Object) error {
	uid := owner.Metadata().GetUid()
	_, deps := g.dependents(uid)
	var errs []error
	for _, d := range deps {
		errs = append(errs, g.dropOwners(ctx, d, func(r *waskv1.OwnerReference) bool { return r.GetUid() == uid }))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return g.removeFinalizer(ctx, owner, OrphanFinalizer)
}

// foreground deletes the owner's dependents and removes its finalizer once
// none that blocks it is left.
func (g *collector) foreground(ctx context.Context, kind string, owner *waskv1.Object) error {
	uid := owner.Metadata().GetUid()
	kinds, deps := g.dependents(uid)
	blocked := false
	var errs []error
	for i, d := range deps {
		dm := d.Metadata()
		for _, r := range dm.GetOwnerReferences() {
			if r.GetUid() == uid && r.GetBlockOwnerDeletion() {
				blocked = true
			}
		}
		if ctrl.Terminating(dm) {
			continue
		}
		// Foreground down the tree; a leaf (a pod) in the background, so a
		// bound pod still gets its node's graceful stop.
		policy := "Background"
		if _, grand := g.dependents(dm.GetUid()); len(grand) > 0 {
			policy = "Foreground"
		}
		if _, err := ctrl.Delete(ctx, g.env.Client, kinds[i], dm.GetNamespace(), dm.GetName(), ctrl.DeleteOptions{UID: dm.GetUid(), Propagation: policy}); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil || blocked {
		return err // the dependents' deletion requeues the owner
	}
	return g.removeFinalizer(ctx, owner, ForegroundFinalizer)
}

// collect deletes an object whose owners are all gone, or drops the
// references to the owners that are gone.
func (g *collector) collect(ctx context.Context, kind string, o *waskv1.Object) error {
	md := o.Metadata()
	gone := map[string]bool{}
	for _, ref := range md.GetOwnerReferences() {
		alive, err := g.ownerAlive(ctx, ref, md)
		if err != nil {
			return err
		}
		if !alive {
			gone[ref.GetUid()] = true
		}
	}
	switch {
	case len(gone) == 0:
		return nil
	case len(gone) == len(md.GetOwnerReferences()):
		_, err := ctrl.Delete(ctx, g.env.Client, kind, md.GetNamespace(), md.GetName(), ctrl.DeleteOptions{UID: md.GetUid()})
		return err
	default:
		return g.dropOwners(ctx, o, func(r *waskv1.OwnerReference) bool { return gone[r.GetUid()] })
	}
}

// ownerAlive reports whether the owner a reference names exists with its
// uid, from the cache, confirming an absence with a live read.
func (g *collector) ownerAlive(ctx context.Context, ref *waskv1.OwnerReference, dependent *waskv1.ObjectMeta) (bool, error) {
	k, ok := waskv1.LookupKind(ref.GetKind())
	if !ok {
		return false, nil // no such kind: it cannot exist
	}
	ns := g.ownerNamespace(ref, dependent)
	if slices.Contains(g.kinds, k.Kind) {
		if o, ok := g.env.Informers.For(k.Kind).Get(ns, ref.GetName()); ok && o.Metadata().GetUid() == ref.GetUid() {
			return true, nil
		}
	}
	resp, err := g.env.Client.Objects.Get(ctx, connect.NewRequest(&waskv1.GetRequest{Kind: k.Kind, Namespace: ns, Name: ref.GetName()}))
	if connect.CodeOf(err) == connect.CodeNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read owner %s %s: %w", k.Kind, ctrl.Key(ns, ref.GetName()), err)
	}
	return resp.Msg.GetObject().Metadata().GetUid() == ref.GetUid(), nil
}

// dropOwners removes the owner references drop selects from an object.
func (g *collector) dropOwners(ctx context.Context, o *waskv1.Object, drop func(*waskv1.OwnerReference) bool) error {
	next := proto.CloneOf(o)
	md := next.Metadata()
	md.OwnerReferences = slices.DeleteFunc(md.OwnerReferences, drop)
	if len(md.OwnerReferences) == len(o.Metadata().GetOwnerReferences()) {
		return nil
	}
	_, err := g.env.Client.Objects.Update(ctx, connect.NewRequest(&waskv1.UpdateRequest{Object: next}))
	if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
		return fmt.Errorf("remove owner references of %s: %w", client.Key(o), err)
	}
	return nil
}

func (g *collector) removeFinalizer(ctx context.Context, o *waskv1.Object, finalizer string) error {
	next := proto.CloneOf(o)
	md := next.Metadata()
	md.Finalizers = slices.DeleteFunc(md.Finalizers, func(f string) bool { return f == finalizer })
	_, err := g.env.Client.Objects.Update(ctx, connect.NewRequest(&waskv1.UpdateRequest{Object: next}))
	if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
		return fmt.Errorf("remove finalizer %s of %s: %w", finalizer, client.Key(o), err)
	}
	return nil
}
