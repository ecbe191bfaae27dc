package sched

import (
	"fmt"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// PodInfo is a pod with what scheduling needs parsed out of it once.
type PodInfo struct {
	// Pod is the pod as read; never modify it.
	Pod *waskv1.Pod
	// Key is "namespace/name".
	Key string
	// Requests is what the pod reserves on its node (PodSpec.resources).
	Requests Resources
	// Priority is spec.priority (0 when unset).
	Priority int32
	// Owner is the uid of the pod's controller owner ("" if none): pods
	// with the same owner are spread apart.
	Owner string
	// Terminating is true once the pod has a deletion timestamp.
	Terminating bool
}

// NewPodInfo parses p. It fails, naming the field, if a resource request
// is not a quantity.
func NewPodInfo(p *waskv1.Pod) (*PodInfo, error) {
	md := p.GetMetadata()
	req, err := podRequests(p)
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s: %w", md.GetNamespace(), md.GetName(), err)
	}
	pi := &PodInfo{
		Pod:         p,
		Key:         md.GetNamespace() + "/" + md.GetName(),
		Requests:    req,
		Priority:    p.GetSpec().GetPriority(),
		Terminating: md.GetDeletionTimestamp() != nil,
	}
	for _, o := range md.GetOwnerReferences() {
		if o.GetController() {
			pi.Owner = o.GetUid()
			if pi.Owner == "" {
				pi.Owner = o.GetKind() + "/" + o.GetName()
			}
			break
		}
	}
	return pi, nil
}

// Finished reports whether the pod ran to the end (Succeeded or Failed):
// it no longer takes resources on its node.
func (p *PodInfo) Finished() bool {
	ph := p.Pod.GetStatus().GetPhase()
	return ph == "Succeeded" || ph == "Failed"
}

// ModuleInfo is what a pod's Module needs of a node.
type ModuleInfo struct {
	Name   string
	Digest string
	// HostModules are the import module names the node must provide.
	HostModules []string
	// Modes are the PodSpec.mode values the module runs in.
	Modes []string

	hostMask uint64 // bits of HostModules in the snapshot's interning
	overflow bool   // some host module has no bit: check by name
}
