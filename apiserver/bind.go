package apiserver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/store"
)

// Bind assigns pods to nodes in one durable write; see ObjectService.Bind.
//
// It reads every pod, writes the bindable ones in one Txn conditional on
// each pod's ModRevision, and if a pod changed meanwhile (the Txn's compare
// fails) reads them again and retries, so that one conflicting pod doesn't
// fail the others. Two binders can never both bind one pod: the second
// one's compare fails, and on the re-read the pod is bound.
func (s *Server) Bind(ctx context.Context, req *connect.Request[waskv1.BindRequest]) (*connect.Response[waskv1.BindResponse], error) {
	bs := req.Msg.GetBindings()
	if len(bs) > s.maxBindings {
		return nil, invalidArgument("bindings: %d bindings, more than the limit of %d per request", len(bs), s.maxBindings)
	}
	pk := kinds["Pod"]
	results := make([]*waskv1.BindResult, len(bs))
	fail := func(i int, code connect.Code, format string, args ...any) {
		results[i].Code = code.String()
		results[i].Message = fmt.Sprintf(format, args...)
	}
	wantRevs := make([]int64, len(bs))
	var pending []int
	seen := map[string]bool{}
	for i, b := range bs {
		ns := b.GetNamespace()
		if ns == "" {
			ns = defaultNamespace
		}
		results[i] = &waskv1.BindResult{Namespace: ns, Name: b.GetName()}
		var errs fieldErrors
		errs.check("namespace", checkDNSLabel(ns))
		errs.check("name", checkDNSSubdomain(b.GetName()))
		errs.check("nodeName", checkDNSSubdomain(b.GetNodeName()))
		if b.GetRevision() != "" {
			rev, err := parseRevision(b.GetRevision(), "revision")
			if err != nil {
				errs.add("revision", "%q is not a revision", b.GetRevision())
			}
			wantRevs[i] = rev
		}
		if seen[ns+"/"+b.GetName()] {
			errs.add("name", "duplicate binding of pod %s/%s in this request", ns, b.GetName())
		}
		seen[ns+"/"+b.GetName()] = true
		if len(errs) > 0 {
			fail(i, connect.CodeInvalidArgument, "bindings[%d]: %s", i, errs[0])
			for _, e := range errs[1:] {
				results[i].Message += "; " + e
			}
			continue
		}
		pending = append(pending, i)
	}
	now := timestamppb.New(s.now())
	for attempt := 0; len(pending) > 0 && attempt < maxWriteAttempts; attempt++ {
		var txn store.Txn
		var inTxn []int
		for _, i := range pending {
			b, ns := bs[i], results[i].Namespace
			cur, kv, err := s.read(ctx, pk, ns, b.GetName())
			var ce *connect.Error
			if errors.As(err, &ce) && ce.Code() == connect.CodeNotFound {
				fail(i, connect.CodeNotFound, "%s", ce.Message())
				continue
			}
			if err != nil {
				return nil, err
			}
			pod := cur.(*waskv1.Pod)
			switch {
			case b.GetUid() != "" && b.GetUid() != pod.GetMetadata().GetUid():
				fail(i, connect.CodeAborted, "pod %q: uid is %q, not %q", b.GetName(), pod.GetMetadata().GetUid(), b.GetUid())
				continue
			case wantRevs[i] != 0 && wantRevs[i] != kv.ModRevision:
				fail(i, connect.CodeAborted, "pod %q: revision %d is stale: the pod is at revision %d", b.GetName(), wantRevs[i], kv.ModRevision)
				continue
			case pod.GetSpec().GetNodeName() != "":
				fail(i, connect.CodeFailedPrecondition, "pod %q is already bound to node %q", b.GetName(), pod.GetSpec().GetNodeName())
				continue
			case pod.GetMetadata().GetDeletionTimestamp() != nil:
				fail(i, connect.CodeFailedPrecondition, "pod %q is being deleted", b.GetName())
				continue
			}
			if errs, err := s.mountErrors(ctx, pod.GetSpec(), b.GetNodeName()); err != nil {
				return nil, err
			} else if len(errs) > 0 {
				fail(i, connect.CodeInvalidArgument, "pod %q: %s", b.GetName(), strings.Join(errs, "; "))
				continue
			}
			bound := proto.Clone(pod).(*waskv1.Pod)
			bindPod(bound, b.GetNodeName(), now)
			value, err := pk.encode(bound)
			if err != nil {
				return nil, translate(err, "bind pod "+b.GetName())
			}
			key := pk.key(ns, b.GetName())
			txn.Compares = append(txn.Compares, store.ModRevisionIs(key, kv.ModRevision))
			txn.Ops = append(txn.Ops, store.Put(key, value))
			inTxn = append(inTxn, i)
		}
		if len(inTxn) == 0 {
			pending = nil
			break
		}
		resp, err := s.st.Txn(ctx, txn)
		if failedCompare(err) >= 0 {
			pending = inTxn // a pod changed since it was read: read them all again
			continue
		}
		if err != nil {
			return nil, translate(err, fmt.Sprintf("bind %d pods", len(inTxn)))
		}
		for _, i := range inTxn {
			results[i].Revision = formatRevision(resp.Revision)
		}
		pending = nil
	}
	for _, i := range pending {
		fail(i, connect.CodeAborted, "pod %q changed concurrently %d times in a row; try again", bs[i].GetName(), maxWriteAttempts)
	}
	return connect.NewResponse(&waskv1.BindResponse{Results: results}), nil
}

// bindPod sets the pod's node and its PodScheduled=True condition.
func bindPod(p *waskv1.Pod, node string, now *timestamppb.Timestamp) {
	if p.Spec == nil {
		p.Spec = &waskv1.PodSpec{}
	}
	p.Spec.NodeName = node
	if p.Status == nil {
		p.Status = &waskv1.PodStatus{}
	}
	cond := &waskv1.Condition{Type: "PodScheduled", Status: "True", LastTransitionTime: now, LastUpdateTime: now}
	for i, c := range p.Status.Conditions {
		if c.GetType() == "PodScheduled" {
			if c.GetStatus() == "True" {
				cond.LastTransitionTime = c.GetLastTransitionTime()
			}
			p.Status.Conditions[i] = cond
			return
		}
	}
	p.Status.Conditions = append(p.Status.Conditions, cond)
}
