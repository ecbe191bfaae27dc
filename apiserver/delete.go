package apiserver

import (
	"context"
	"slices"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/store"
)

// foregroundFinalizer holds an owner deleted with propagation "Foreground"
// until its blocking dependents are gone.
const foregroundFinalizer = "wask.dev/foreground-deletion"

// orphanFinalizer holds an owner deleted with propagation "Orphan" until
// the garbage collector has removed it from its dependents' owner
// references.
const orphanFinalizer = "wask.dev/orphan"

// defaultPodGrace is a pod's grace period when neither the request nor
// spec.terminationGracePeriod gives one.
const defaultPodGrace = 30 * time.Second

// Delete removes an object, or marks it with a deletion timestamp while
// finalizers (or a bound pod's node) still have work; see
// ObjectService.Delete.
//
//	          Delete                          last finalizer removed (Update),
//	live ──────────────────▶ terminating ───or Delete with grace 0 (bound pod)──▶ gone
//	  │  (finalizers, Foreground,  │
//	  │   or a bound pod)          └── Delete again: no-op
//	  └─────────── Delete (nothing to wait for) ──────────────────────────────────▶ gone
func (s *Server) Delete(ctx context.Context, req *connect.Request[waskv1.DeleteRequest]) (*connect.Response[waskv1.DeleteResponse], error) {
	r := req.Msg
	k, err := kindArg(r.GetKind())
	if err != nil {
		return nil, err
	}
	ns, err := nameArgs(k, r.GetNamespace(), r.GetName())
	if err != nil {
		return nil, err
	}
	name := r.GetName()
	switch r.GetPropagationPolicy() {
	case "", "Background", "Foreground", "Orphan":
	default:
		return nil, invalidArgument("propagationPolicy: %s", checkOneOf(r.GetPropagationPolicy(), "Background", "Foreground", "Orphan"))
	}
	if r.GracePeriodSeconds != nil && r.GetGracePeriodSeconds() < 0 {
		return nil, invalidArgument("gracePeriodSeconds: must not be negative")
	}
	var wantRev int64
	if r.GetPreconditions().GetRevision() != "" {
		if wantRev, err = parseRevision(r.GetPreconditions().GetRevision(), "preconditions.revision"); err != nil {
			return nil, err
		}
	}
	key := k.key(ns, name)
	for attempt := 0; attempt < maxWriteAttempts; attempt++ {
		cur, kv, err := s.read(ctx, k, ns, name)
		if err != nil {
			return nil, err
		}
		cm := k.meta(cur)
		if uid := r.GetPreconditions().GetUid(); uid != "" && uid != cm.GetUid() {
			return nil, aborted("%s %q: uid precondition failed: the object's uid is %q, not %q", k.lowerName(), name, cm.GetUid(), uid)
		}
		if wantRev != 0 && wantRev != kv.ModRevision {
			return nil, staleRevision(k, name, wantRev, kv.ModRevision)
		}
		next := proto.Clone(cur)
		nm := k.meta(next)
		if r.GetPropagationPolicy() == "Foreground" && !slices.Contains(nm.Finalizers, foregroundFinalizer) && cm.DeletionTimestamp == nil {
			nm.Finalizers = append(nm.Finalizers, foregroundFinalizer)
		}
		if r.GetPropagationPolicy() == "Orphan" && !slices.Contains(nm.Finalizers, orphanFinalizer) && cm.DeletionTimestamp == nil {
			nm.Finalizers = append(nm.Finalizers, orphanFinalizer)
		}
		grace, bound := podGrace(cur, r.GracePeriodSeconds)
		waitForNode := bound && grace > 0
		remove := len(nm.Finalizers) == 0 && !waitForNode
		if !remove && cm.DeletionTimestamp != nil && proto.Equal(cur, next) {
			return connect.NewResponse(&waskv1.DeleteResponse{Object: k.wrap(cur)}), nil // already terminating
		}
		txn := store.Txn{Compares: []store.Compare{store.ModRevisionIs(key, kv.ModRevision)}}
		if remove {
			txn.Ops = []store.Op{store.Delete(key)}
		} else {
			if nm.DeletionTimestamp == nil {
				nm.DeletionTimestamp = timestamppb.New(s.now())
				secs := int64(grace / time.Second)
				nm.DeletionGracePeriodSeconds = &secs
				if n, ok := next.(*waskv1.Namespace); ok {
					if n.Status == nil {
						n.Status = &waskv1.NamespaceStatus{}
					}
					n.Status.Phase = "Terminating"
				}
			}
			value, err := k.encode(next)
			if err != nil {
				return nil, translate(err, "delete "+k.lowerName()+" "+name)
			}
			txn.Ops = []store.Op{store.Put(key, value)}
		}
		resp, err := s.st.Txn(ctx, txn)
		if failedCompare(err) == 0 {
			if wantRev != 0 {
				return nil, staleRevision(k, name, wantRev, 0)
			}
			continue
		}
		if err != nil {
			return nil, translate(err, "delete "+k.lowerName()+" "+name)
		}
		nm.Revision = formatRevision(resp.Revision)
		return connect.NewResponse(&waskv1.DeleteResponse{Object: k.wrap(next)}), nil
	}
	return nil, aborted("%s %q: changed by others %d times in a row; try again", k.lowerName(), name, maxWriteAttempts)
}

// podGrace returns the grace period of a pod's deletion and whether the pod
// is bound (its node must stop it first). Other kinds: 0, false.
func podGrace(m proto.Message, requested *int64) (time.Duration, bool) {
	p, ok := m.(*waskv1.Pod)
	if !ok {
		return 0, false
	}
	grace := defaultPodGrace
	if requested != nil {
		grace = time.Duration(*requested) * time.Second
	} else if g, err := time.ParseDuration(p.GetSpec().GetTerminationGracePeriod()); err == nil {
		grace = g
	}
	return grace, p.GetSpec().GetNodeName() != ""
}
