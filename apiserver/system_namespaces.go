package apiserver

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// SystemNamespaces are the namespaces the cluster's own parts write in,
// which the apiserver creates when it starts serving (nodes may not create
// Namespaces): "wask-node-lease" holds each node's heartbeat Lease.
var SystemNamespaces = []string{"wask-node-lease"}

// EnsureSystemNamespaces creates the SystemNamespaces that do not exist.
// Serve calls it before it accepts requests.
func (s *Server) EnsureSystemNamespaces(ctx context.Context) error {
	k := kinds["Namespace"]
	for _, ns := range SystemNamespaces {
		_, err := s.create(ctx, k, &waskv1.Namespace{Metadata: &waskv1.ObjectMeta{Name: ns}}, nil)
		if err != nil && connect.CodeOf(err) != connect.CodeAlreadyExists {
			return fmt.Errorf("apiserver: create system namespace %s: %w", ns, err)
		}
	}
	return nil
}
