package sched

import (
	"fmt"
	"slices"
	"strconv"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// The built-in filters, in the order they run by default. ResourceFit is
// last so that a node it rejects passed every other filter: only then can
// preemption help.
const (
	NodeReadyName        = "NodeReady"
	NodeAffinityName     = "NodeAffinity"
	TaintTolerationName  = "TaintToleration"
	HostCapabilitiesName = "HostCapabilities"
	ResourceFitName      = "ResourceFit"
)

// NodeReady rejects nodes that are not Ready or are cordoned
// (spec.unschedulable).
type NodeReady struct{}

func (NodeReady) Name() string { return NodeReadyName }

var (
	statusNotReady      = Status{UnschedulableAndUnresolvable, "node(s) were not ready"}
	statusUnschedulable = Status{UnschedulableAndUnresolvable, "node(s) were unschedulable"}
)

func (NodeReady) PreFilter(*Snapshot, *PodInfo) (NodeFilter, Status) {
	return func(n *NodeInfo) Status {
		switch {
		case !n.Ready:
			return statusNotReady
		case n.Unschedulable:
			return statusUnschedulable
		}
		return Status{}
	}, Status{}
}

// NodeAffinity rejects nodes that do not match the pod's node_selector
// and required node affinity.
type NodeAffinity struct{}

func (NodeAffinity) Name() string { return NodeAffinityName }

var statusAffinity = Status{UnschedulableAndUnresolvable, "node(s) didn't match the pod's node selector/affinity"}

func (NodeAffinity) PreFilter(_ *Snapshot, p *PodInfo) (NodeFilter, Status) {
	sel := p.Pod.GetSpec().GetNodeSelector()
	req := p.Pod.GetSpec().GetAffinity().GetNodeAffinity().GetRequired()
	if len(sel) == 0 && len(req) == 0 {
		return nil, Status{}
	}
	return func(n *NodeInfo) Status {
		for k, v := range sel {
			if lv, ok := n.labels[k]; !ok || lv != v {
				return statusAffinity
			}
		}
		if len(req) > 0 && !slices.ContainsFunc(req, func(t *waskv1.NodeSelectorTerm) bool { return termMatches(t, n.labels) }) {
			return statusAffinity
		}
		return Status{}
	}, Status{}
}

// termMatches reports whether labels satisfy every expression of t. A term
// without expressions matches nothing, as in Kubernetes.
func termMatches(t *waskv1.NodeSelectorTerm, labels map[string]string) bool {
	exprs := t.GetMatchExpressions()
	if len(exprs) == 0 {
		return false
	}
	for _, e := range exprs {
		if !requirementMatches(e, labels) {
			return false
		}
	}
	return true
}

func requirementMatches(e *waskv1.NodeSelectorRequirement, labels map[string]string) bool {
	v, ok := labels[e.GetKey()]
	switch e.GetOperator() {
	case "In":
		return ok && slices.Contains(e.GetValues(), v)
	case "NotIn":
		return !ok || !slices.Contains(e.GetValues(), v)
	case "Exists":
		return ok
	case "DoesNotExist":
		return !ok
	case "Gt", "Lt":
		if !ok || len(e.GetValues()) != 1 {
			return false
		}
		have, err1 := strconv.ParseInt(v, 10, 64)
		want, err2 := strconv.ParseInt(e.GetValues()[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if e.GetOperator() == "Gt" {
			return have > want
		}
		return have < want
	}
	return false
}

// TaintToleration rejects nodes with a NoSchedule or NoExecute taint the
// pod does not tolerate.
type TaintToleration struct{}

func (TaintToleration) Name() string { return TaintTolerationName }

func (TaintToleration) PreFilter(_ *Snapshot, p *PodInfo) (NodeFilter, Status) {
	tols := p.Pod.GetSpec().GetTolerations()
	return func(n *NodeInfo) Status {
		for _, t := range n.hardTaints {
			if !tolerated(t, tols) {
				return Status{UnschedulableAndUnresolvable, fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.GetKey(), t.GetValue())}
			}
		}
		return Status{}
	}, Status{}
}

// tolerated reports whether any toleration matches the taint.
func tolerated(t *waskv1.Taint, tols []*waskv1.Toleration) bool {
	for _, tol := range tols {
		if tol.GetEffect() != "" && tol.GetEffect() != t.GetEffect() {
			continue
		}
		if tol.GetKey() == "" && tol.GetOperator() == "Exists" {
			return true
		}
		if tol.GetKey() != t.GetKey() {
			continue
		}
		if tol.GetOperator() == "Exists" || tol.GetValue() == t.GetValue() {
			return true
		}
	}
	return false
}

// HostCapabilities rejects nodes that cannot run the pod's module: every
// import module of its Module must be among the node's host_modules, and
// the pod's mode among the node's modes, and every host directory the pod
// mounts among the node's hostPaths. A pod whose Module is unknown, or
// whose Module does not run in the pod's mode, fits no node.
type HostCapabilities struct{}

func (HostCapabilities) Name() string { return HostCapabilitiesName }

func (HostCapabilities) PreFilter(s *Snapshot, p *PodInfo) (NodeFilter, Status) {
	ref, mode := p.Pod.GetSpec().GetModule(), p.Pod.GetSpec().GetMode()
	m, ok := s.Module(ref)
	if !ok {
		return nil, Status{UnschedulableAndUnresolvable, fmt.Sprintf("the pod's module %q is not known (no Module object names it)", ref)}
	}
	if !slices.Contains(m.Modes, mode) {
		return nil, Status{UnschedulableAndUnresolvable, fmt.Sprintf("module %q does not run in mode %q (it runs in %v)", ref, mode, m.Modes)}
	}
	bit := modeBit(mode)
	modeStatus := Status{UnschedulableAndUnresolvable, fmt.Sprintf("node(s) don't run mode %q", mode)}
	missing := func(n *NodeInfo) Status {
		for _, h := range m.HostModules {
			if !n.hostModules[h] {
				return Status{UnschedulableAndUnresolvable, fmt.Sprintf("node(s) lack host module %q", h)}
			}
		}
		return Status{}
	}
	mounts := p.Pod.GetSpec().GetMounts()
	return func(n *NodeInfo) Status {
		if n.modes&bit == 0 {
			return modeStatus
		}
		if m.overflow || m.hostMask&^n.hostMask != 0 {
			if st := missing(n); st.Code != Success {
				return st
			}
		}
		for _, mt := range mounts {
			if !waskv1.HostPathAllowed(n.Node.GetStatus().GetCapabilities().GetHostPaths(), mt.GetHostPath()) {
				return Status{UnschedulableAndUnresolvable, fmt.Sprintf("node(s) don't allow mounting %q", mt.GetHostPath())}
			}
		}
		return Status{}
	}, Status{}
}

// ResourceFit rejects nodes without room for the pod's requests (memory,
// CPU, pod count) next to the pods bound or assumed there and the
// nominated pods of at least the pod's priority.
type ResourceFit struct{}

func (ResourceFit) Name() string { return ResourceFitName }

var (
	statusMemory = Status{Unschedulable, "insufficient memory"}
	statusCPU    = Status{Unschedulable, "insufficient cpu"}
	statusPods   = Status{Unschedulable, "too many pods"}
)

func (ResourceFit) PreFilter(_ *Snapshot, p *PodInfo) (NodeFilter, Status) {
	return func(n *NodeInfo) Status {
		used := n.Requested
		for _, q := range n.Nominated {
			if q.Priority >= p.Priority && q.Key != p.Key {
				used = used.Add(q.Requests)
			}
		}
		return fitStatus(p.Requests, used, n.Allocatable)
	}, Status{}
}

// fitStatus checks whether req fits next to used within alloc.
func fitStatus(req, used, alloc Resources) Status {
	switch {
	case req.Memory > 0 && used.Memory+req.Memory > alloc.Memory:
		return statusMemory
	case req.MilliCPU > 0 && used.MilliCPU+req.MilliCPU > alloc.MilliCPU:
		return statusCPU
	case used.Pods+req.Pods > alloc.Pods:
		return statusPods
	}
	return Status{}
}
