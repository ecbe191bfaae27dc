package apiserver

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/api/wask/v1/waskv1connect"
)

// Identity is who made a request.
type Identity struct {
	// Admin may do anything.
	Admin bool
	// Node, when set, is the node the caller acts as: it may read
	// everything, and write only its own Node and Lease, the status of pods
	// bound to it, the deletion of those pods, and Events.
	Node string
}

func (id Identity) String() string {
	if id.Admin {
		return "admin"
	}
	return "node " + id.Node
}

// Tokens authenticates bearer tokens.
type Tokens interface {
	// Authenticate returns the identity of a token; header is the
	// request's headers (a node names itself in NodeNameHeader).
	Authenticate(token string, header func(string) string) (Identity, bool)
}

// NodeNameHeader is the header a node sends its name in, with the node
// join token.
const NodeNameHeader = "Wask-Node-Name"

type identityKey struct{}

// IdentityFrom returns the authenticated identity of a request's context.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// authInterceptor authenticates every RPC of the services it wraps and
// authorizes nodes' writes. Unary and streaming calls alike.
type authInterceptor struct {
	s      *Server
	tokens Tokens
}

func (a authInterceptor) authenticate(ctx context.Context, header func(string) string) (context.Context, error) {
	auth := header("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || token == "" {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("missing bearer token: send Authorization: Bearer <token>"))
	}
	id, ok := a.tokens.Authenticate(token, header)
	if !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("invalid bearer token"))
	}
	return context.WithValue(ctx, identityKey{}, id), nil
}

func (a authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		ctx, err := a.authenticate(ctx, req.Header().Get)
		if err != nil {
			return nil, err
		}
		id, _ := IdentityFrom(ctx)
		if err := a.s.authorize(ctx, id, req.Spec().Procedure, req.Any()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (a authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (a authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := a.authenticate(ctx, conn.RequestHeader().Get)
		if err != nil {
			return err
		}
		id, _ := IdentityFrom(ctx)
		if !id.Admin && conn.Spec().Procedure == waskv1connect.ModuleServicePushProcedure {
			return permissionDenied(id, "push modules")
		}
		return next(ctx, conn)
	}
}

func permissionDenied(id Identity, what string) error {
	return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s may not %s", id, what))
}

// authorize checks a node's unary call; admins may do anything and every
// identity may read.
func (s *Server) authorize(ctx context.Context, id Identity, procedure string, msg any) error {
	if id.Admin {
		return nil
	}
	switch procedure {
	case waskv1connect.ObjectServiceGetProcedure, waskv1connect.ObjectServiceListProcedure:
		return nil
	case waskv1connect.CertificateServiceIssueNodeCertificateProcedure:
		return nil // a node gets only its own (certificates.go)
	case waskv1connect.ObjectServiceCreateProcedure, waskv1connect.ObjectServiceUpdateProcedure, waskv1connect.ObjectServiceUpdateStatusProcedure:
		var obj *waskv1.Object
		switch r := msg.(type) {
		case *waskv1.CreateRequest:
			obj = r.GetObject()
		case *waskv1.UpdateRequest:
			obj = r.GetObject()
		case *waskv1.UpdateStatusRequest:
			obj = r.GetObject()
		}
		name := obj.Metadata().GetName()
		switch {
		case obj.GetNode() != nil && name == id.Node:
			return nil
		case obj.GetLease() != nil && name == id.Node:
			return nil
		case obj.GetEvent() != nil && procedure == waskv1connect.ObjectServiceCreateProcedure:
			return nil
		case obj.GetPod() != nil && procedure == waskv1connect.ObjectServiceUpdateStatusProcedure:
			if s.podBoundTo(ctx, obj.Metadata().GetNamespace(), name, id.Node) {
				return nil
			}
		}
		info, _ := obj.Info()
		return permissionDenied(id, fmt.Sprintf("write %s %q", strings.ToLower(info.Kind), name))
	case waskv1connect.ObjectServiceDeleteProcedure:
		r, _ := msg.(*waskv1.DeleteRequest)
		if k, ok := waskv1.LookupKind(r.GetKind()); ok && k.Kind == "Pod" && s.podBoundTo(ctx, r.GetNamespace(), r.GetName(), id.Node) {
			return nil
		}
		return permissionDenied(id, fmt.Sprintf("delete %s %q", strings.ToLower(r.GetKind()), r.GetName()))
	}
	return permissionDenied(id, "call "+procedure)
}

func (s *Server) podBoundTo(ctx context.Context, ns, name, node string) bool {
	k := kinds["Pod"]
	if ns == "" {
		ns = "default"
	}
	m, _, err := s.read(ctx, k, ns, name)
	if err != nil {
		return false
	}
	pod, ok := m.(*waskv1.Pod)
	return ok && node != "" && pod.GetSpec().GetNodeName() == node
}

// StaticTokens authenticates the cluster's two shared tokens: the admin
// token and the node join secret. A caller with the join secret is the node
// it names in NodeNameHeader (nodes are trusted on join; per-node
// credentials are later work).
type StaticTokens struct {
	Admin    string
	NodeJoin string
}

func (t StaticTokens) Authenticate(token string, header func(string) string) (Identity, bool) {
	switch {
	case t.Admin != "" && tokenEqual(token, t.Admin):
		return Identity{Admin: true}, true
	case t.NodeJoin != "" && tokenEqual(token, t.NodeJoin):
		node := header(NodeNameHeader)
		if checkDNSSubdomain(node) != "" {
			return Identity{}, false
		}
		return Identity{Node: node}, true
	}
	return Identity{}, false
}

func tokenEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
