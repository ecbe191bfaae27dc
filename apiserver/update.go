package apiserver

import (
	"bytes"
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/store"
)

// Update replaces an object's metadata and spec; see ObjectService.Update.
func (s *Server) Update(ctx context.Context, req *connect.Request[waskv1.UpdateRequest]) (*connect.Response[waskv1.UpdateResponse], error) {
	k, in, err := objectArg(req.Msg.GetObject())
	if err != nil {
		return nil, err
	}
	if err := pushOnly(k, "update"); err != nil {
		return nil, err
	}
	out, err := s.write(ctx, k, in, func(cur, next proto.Message) error {
		return s.mergeUpdate(k, cur, next)
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&waskv1.UpdateResponse{Object: k.wrap(out)}), nil
}

// UpdateStatus replaces an object's status; see ObjectService.UpdateStatus.
func (s *Server) UpdateStatus(ctx context.Context, req *connect.Request[waskv1.UpdateStatusRequest]) (*connect.Response[waskv1.UpdateStatusResponse], error) {
	k, in, err := objectArg(req.Msg.GetObject())
	if err != nil {
		return nil, err
	}
	if err := pushOnly(k, "update the status of"); err != nil {
		return nil, err
	}
	if k.statusField == nil {
		return nil, invalidArgument("%s %q: %s has no status", k.lowerName(), k.meta(in).GetName(), k.name)
	}
	out, err := s.write(ctx, k, in, func(cur, next proto.Message) error {
		// next starts as the request; keep only its status.
		status := proto.Clone(next)
		proto.Reset(next)
		proto.Merge(next, cur)
		k.copyStatus(next, status)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&waskv1.UpdateStatusResponse{Object: k.wrap(out)}), nil
}

// write is the read-modify-write loop of Update and UpdateStatus. merge turns
// next (a copy of the request's object) into the object to store, given the
// current one. A non-empty metadata.revision in the request is a
// precondition (Aborted if stale); without it a concurrent write makes the
// loop read again and retry.
func (s *Server) write(ctx context.Context, k *kindInfo, in proto.Message, merge func(cur, next proto.Message) error) (proto.Message, error) {
	md := k.meta(in)
	ns, err := nameArgs(k, md.GetNamespace(), md.GetName())
	if err != nil {
		return nil, err
	}
	name := md.GetName()
	var want int64
	if md.GetRevision() != "" {
		if want, err = parseRevision(md.GetRevision(), "metadata.revision"); err != nil {
			return nil, err
		}
	}
	if apiVer, kind := k.typeMeta(in); (apiVer != "" && apiVer != apiVersion) || (kind != "" && kind != k.name) {
		return nil, validate(k, in) // names the bad apiVersion or kind
	}
	key := k.key(ns, name)
	for attempt := 0; attempt < maxWriteAttempts; attempt++ {
		cur, kv, err := s.read(ctx, k, ns, name)
		if err != nil {
			return nil, err
		}
		if want != 0 && kv.ModRevision != want {
			return nil, staleRevision(k, name, want, kv.ModRevision)
		}
		next := proto.Clone(in)
		if err := merge(cur, next); err != nil {
			return nil, err
		}
		if err := validate(k, next); err != nil {
			return nil, err
		}
		k.setTypeMeta(next)
		value, err := k.encode(next)
		if err != nil {
			return nil, translate(err, "update "+k.lowerName()+" "+name)
		}
		nm := k.meta(next)
		if bytes.Equal(value, kv.Value) {
			return cur, nil // nothing changed: no write, no new revision
		}
		txn := store.Txn{Compares: []store.Compare{store.ModRevisionIs(key, kv.ModRevision)}}
		// The last finalizer of an object being deleted is gone: delete it.
		finalized := nm.GetDeletionTimestamp() != nil && len(k.meta(cur).GetFinalizers()) > 0 && len(nm.GetFinalizers()) == 0
		if finalized {
			txn.Ops = []store.Op{store.Delete(key)}
		} else {
			txn.Ops = []store.Op{store.Put(key, value)}
		}
		resp, err := s.st.Txn(ctx, txn)
		if failedCompare(err) == 0 {
			if want != 0 {
				return nil, staleRevision(k, name, want, 0)
			}
			continue
		}
		if err != nil {
			return nil, translate(err, "update "+k.lowerName()+" "+name)
		}
		nm.Revision = formatRevision(resp.Revision)
		return next, nil
	}
	return nil, aborted("%s %q: changed by others %d times in a row; read it again and retry", k.lowerName(), name, maxWriteAttempts)
}

// staleRevision is the Aborted error of a failed revision precondition.
func staleRevision(k *kindInfo, name string, want, actual int64) error {
	if actual == 0 {
		return aborted("%s %q: revision %d is stale: the object changed since; read it again and retry", k.lowerName(), name, want)
	}
	return aborted("%s %q: revision %d is stale: the object is at revision %d; read it again and retry", k.lowerName(), name, want, actual)
}

// mergeUpdate turns next, the object an Update carries, into the object to
// store: server-set metadata and status come from cur, generation counts
// spec changes, and immutable fields are enforced.
func (s *Server) mergeUpdate(k *kindInfo, cur, next proto.Message) error {
	cm, nm := k.meta(cur), k.meta(next)
	var errs fieldErrors
	if nm.GetUid() != "" && nm.GetUid() != cm.GetUid() {
		errs.add("metadata.uid", "immutable: is %q, not %q", cm.GetUid(), nm.GetUid())
	}
	if nm.CreationTimestamp != nil && !proto.Equal(nm.CreationTimestamp, cm.CreationTimestamp) {
		errs.add("metadata.creationTimestamp", "immutable")
	}
	nm.Uid = cm.GetUid()
	nm.CreationTimestamp = cm.GetCreationTimestamp()
	nm.Generation = cm.GetGeneration()
	nm.DeletionTimestamp = cm.GetDeletionTimestamp()
	nm.DeletionGracePeriodSeconds = cm.DeletionGracePeriodSeconds
	k.copyStatus(next, cur)
	defaultSpec(next, s.now())
	checkImmutable(cur, next, &errs)
	if err := errs.err(k, nm.GetName()); err != nil {
		return err
	}
	if !k.specEqual(cur, next) {
		if cm.GetDeletionTimestamp() != nil {
			return failedPrecondition("%s %q is being deleted: its spec can no longer change", k.lowerName(), nm.GetName())
		}
		nm.Generation++
	}
	return nil
}

// checkImmutable reports changes of fields that may not change after
// creation. Fields left empty in next are taken from cur where the client
// cannot be expected to send them (a pod's node name, a Job's default
// selector).
func checkImmutable(cur, next proto.Message, errs *fieldErrors) {
	switch c := cur.(type) {
	case *waskv1.Pod:
		n := next.(*waskv1.Pod)
		if n.GetSpec().GetNodeName() == "" && c.GetSpec().GetNodeName() != "" {
			if n.Spec == nil {
				n.Spec = &waskv1.PodSpec{}
			}
			n.Spec.NodeName = c.GetSpec().GetNodeName()
		}
		if !proto.Equal(c.GetSpec(), n.GetSpec()) {
			errs.add("spec", "immutable after creation (spec.nodeName is set only by Bind)")
		}
	case *waskv1.ReplicaSet:
		if !proto.Equal(c.GetSpec().GetSelector(), next.(*waskv1.ReplicaSet).GetSpec().GetSelector()) {
			errs.add("spec.selector", "immutable")
		}
	case *waskv1.Deployment:
		if !proto.Equal(c.GetSpec().GetSelector(), next.(*waskv1.Deployment).GetSpec().GetSelector()) {
			errs.add("spec.selector", "immutable")
		}
	case *waskv1.Job:
		n := next.(*waskv1.Job)
		if n.GetSpec() != nil && n.GetSpec().Selector == nil {
			n.Spec.Selector = c.GetSpec().GetSelector()
		}
		if !proto.Equal(c.GetSpec().GetSelector(), n.GetSpec().GetSelector()) {
			errs.add("spec.selector", "immutable")
		}
	}
}
