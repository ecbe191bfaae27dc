package apiserver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// mountErrors names each of pod's mounts that node does not allow (its
// status.capabilities.hostPaths), as field errors. A pod that mounts
// nothing, or names no node, passes. A node not registered yet is not
// checked here: its wasmlet refuses what it does not allow (the pod fails
// with reason MountNotAllowed), and the scheduler never picks a node that
// does not allow a pod's mounts.
func (s *Server) mountErrors(ctx context.Context, spec *waskv1.PodSpec, node string) (fieldErrors, error) {
	if len(spec.GetMounts()) == 0 || node == "" {
		return nil, nil
	}
	m, _, err := s.read(ctx, kinds["Node"], "", node)
	var ce *connect.Error
	if errors.As(err, &ce) && ce.Code() == connect.CodeNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	allowed := m.(*waskv1.Node).GetStatus().GetCapabilities().GetHostPaths()
	var errs fieldErrors
	for i, mt := range spec.GetMounts() {
		if !waskv1.HostPathAllowed(allowed, mt.GetHostPath()) {
			errs.add(fmt.Sprintf("spec.mounts[%d].hostPath", i), "node %s does not allow mounting %q (%s)", node, mt.GetHostPath(), allowedList(allowed))
		}
	}
	return errs, nil
}

func allowedList(allowed []string) string {
	if len(allowed) == 0 {
		return "it allows no host directory; see wask node --allow-host-path"
	}
	return "it allows " + strings.Join(allowed, ", ") + " and what is under them"
}

// admitMounts is mountErrors as the error of a pod write.
func (s *Server) admitMounts(ctx context.Context, pod *waskv1.Pod) error {
	errs, err := s.mountErrors(ctx, pod.GetSpec(), pod.GetSpec().GetNodeName())
	if err != nil {
		return err
	}
	return errs.err(kinds["Pod"], pod.GetMetadata().GetName())
}
