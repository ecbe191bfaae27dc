package apiserver

import (
	"context"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// Get reads one object at the latest revision.
func (s *Server) Get(ctx context.Context, req *connect.Request[waskv1.GetRequest]) (*connect.Response[waskv1.GetResponse], error) {
	k, err := kindArg(req.Msg.GetKind())
	if err != nil {
		return nil, err
	}
	ns, err := nameArgs(k, req.Msg.GetNamespace(), req.Msg.GetName())
	if err != nil {
		return nil, err
	}
	m, _, err := s.read(ctx, k, ns, req.Msg.GetName())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&waskv1.GetResponse{Object: k.wrap(m)}), nil
}
