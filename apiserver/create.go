package apiserver

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/store"
)

// Create stores a new object; see ObjectService.Create.
func (s *Server) Create(ctx context.Context, req *connect.Request[waskv1.CreateRequest]) (*connect.Response[waskv1.CreateResponse], error) {
	k, m, err := objectArg(req.Msg.GetObject())
	if err != nil {
		return nil, err
	}
	if err := pushOnly(k, "create"); err != nil {
		return nil, err
	}
	out, err := s.create(ctx, k, m, nil)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&waskv1.CreateResponse{Object: k.wrap(out)}), nil
}

// create stores m, a new object of kind k: it sets the server's metadata,
// defaults, runs init (if not nil; it may set what a client may not, such as
// the status Push computes), validates and writes. It returns the object as
// stored.
func (s *Server) create(ctx context.Context, k *kindInfo, m proto.Message, init func(proto.Message)) (proto.Message, error) {
	now := s.now()
	md := k.meta(m)
	uid, err := s.newUID()
	if err != nil {
		return nil, err
	}
	md.Uid = uid
	md.Revision = ""
	md.Generation = 1
	md.CreationTimestamp = timestamppb.New(now)
	md.DeletionTimestamp = nil
	md.DeletionGracePeriodSeconds = nil
	defaultSpec(m, now)
	defaultCreate(k, m, now)
	if init != nil {
		init(m)
	}
	if err := validate(k, m); err != nil {
		return nil, err
	}
	if pod, ok := m.(*waskv1.Pod); ok {
		if err := s.admitMounts(ctx, pod); err != nil {
			return nil, err
		}
	}
	k.setTypeMeta(m)
	value, err := k.encode(m)
	if err != nil {
		return nil, translate(err, "create "+k.lowerName())
	}
	key := k.key(md.Namespace, md.Name)
	for attempt := 0; ; attempt++ {
		txn := store.Txn{Compares: []store.Compare{store.Absent(key)}, Ops: []store.Op{store.Put(key, value)}}
		if k.namespaced && md.Namespace != defaultNamespace {
			nsRev, err := s.activeNamespace(ctx, md.Namespace)
			if err != nil {
				return nil, err
			}
			txn.Compares = append(txn.Compares, store.ModRevisionIs(kinds["Namespace"].key("", md.Namespace), nsRev))
		}
		resp, err := s.st.Txn(ctx, txn)
		switch idx := failedCompare(err); {
		case err == nil:
			md.Revision = formatRevision(resp.Revision)
			return m, nil
		case idx == 0:
			return nil, alreadyExists(k, md.Namespace, md.Name)
		case idx == 1 && attempt < maxWriteAttempts:
			continue // the namespace changed meanwhile: check it again
		default:
			return nil, translate(err, "create "+k.lowerName()+" "+md.Name)
		}
	}
}

// activeNamespace returns the ModRevision of the Namespace object ns, or an
// error if it doesn't exist (NotFound) or is terminating
// (FailedPrecondition).
func (s *Server) activeNamespace(ctx context.Context, ns string) (int64, error) {
	nk := kinds["Namespace"]
	obj, kv, err := s.read(ctx, nk, "", ns)
	var ce *connect.Error
	if errors.As(err, &ce) && ce.Code() == connect.CodeNotFound {
		return 0, connect.NewError(connect.CodeNotFound, errors.New("namespace \""+ns+"\" not found: create the Namespace first"))
	}
	if err != nil {
		return 0, err
	}
	n := obj.(*waskv1.Namespace)
	if n.GetMetadata().GetDeletionTimestamp() != nil || n.GetStatus().GetPhase() == "Terminating" {
		return 0, failedPrecondition("namespace %q is terminating: no new objects can be created in it", ns)
	}
	return kv.ModRevision, nil
}
