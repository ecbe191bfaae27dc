package sched

import (
	"fmt"
	"slices"
	"strings"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// NodeInfo is a node and the pods the scheduler counts on it.
type NodeInfo struct {
	Name string
	// Node is the node as read; nil while pods name a node the snapshot
	// has not seen (such a node is never chosen).
	Node          *waskv1.Node
	Ready         bool
	Unschedulable bool
	Allocatable   Resources
	// memScale and cpuScale are 100 / allocatable (0 if none), for scoring.
	memScale, cpuScale float64
	// Requested is the sum of the requests of the pods on the node: those
	// bound to it and those this scheduler assumed there.
	Requested Resources
	// Pods are the pods counted on the node, by key.
	Pods map[string]*PodInfo
	// Nominated are higher-priority pods that preempted pods here and wait
	// for them to leave; their requests are reserved against pods of lower
	// or equal priority.
	Nominated []*PodInfo

	labels      map[string]string
	hardTaints  []*waskv1.Taint // NoSchedule and NoExecute
	softTaints  []*waskv1.Taint // PreferNoSchedule
	hostModules map[string]bool
	hostMask    uint64
	modes       uint8
	slot        int
	topo        []int32 // per topology key: interned value, -1 if unlabelled
	listed      bool    // in Snapshot.order
}

// Labels returns the node's labels; do not modify them.
func (n *NodeInfo) Labels() map[string]string { return n.labels }

// placed is a pod the snapshot counts on a node.
type placed struct {
	info    *PodInfo
	node    string
	assumed bool
}

// ownerCounts count one owner's pods per node slot and per topology value.
type ownerCounts struct {
	perSlot []int32
	perTopo [][]int32 // [topology key][value]
	total   int32
}

// Snapshot is the scheduler's view of the cluster: nodes, the pods on
// them, and modules. It is not safe for concurrent use; the Scheduler
// guards it with a lock. Make one with Framework.NewSnapshot so that it
// tracks the topology keys the framework's plugins spread over.
type Snapshot struct {
	topoKeys   []string
	topoValues []map[string]int32

	slots  []*NodeInfo // by slot; nil when free
	free   []int
	order  []*NodeInfo // known nodes, by name
	byName map[string]*NodeInfo

	pods      map[string]*placed
	owners    map[string]*ownerCounts
	nominated map[string]*NodeInfo // pod key → node it is nominated on

	softTainted int // known nodes with a PreferNoSchedule taint

	modules  map[string]*ModuleInfo            // by Module name
	digests  map[string]map[string]*ModuleInfo // by digest, then name
	hostBits map[string]uint
}

// newSnapshot returns an empty snapshot that tracks the topology keys.
func newSnapshot(topologyKeys []string) *Snapshot {
	s := &Snapshot{
		topoKeys: slices.Clone(topologyKeys),
		byName:   map[string]*NodeInfo{}, pods: map[string]*placed{}, owners: map[string]*ownerCounts{},
		nominated: map[string]*NodeInfo{}, modules: map[string]*ModuleInfo{},
		digests: map[string]map[string]*ModuleInfo{}, hostBits: map[string]uint{},
	}
	for range topologyKeys {
		s.topoValues = append(s.topoValues, map[string]int32{})
	}
	return s
}

// Nodes returns the known nodes sorted by name; do not modify the slice.
func (s *Snapshot) Nodes() []*NodeInfo { return s.order }

// Node returns a known node by name.
func (s *Snapshot) Node(name string) (*NodeInfo, bool) {
	n, ok := s.byName[name]
	if !ok || n.Node == nil {
		return nil, false
	}
	return n, true
}

// PodNode returns the node a pod is counted on, and whether it is only
// assumed there.
func (s *Snapshot) PodNode(key string) (node string, assumed, ok bool) {
	p, ok := s.pods[key]
	if !ok {
		return "", false, false
	}
	return p.node, p.assumed, true
}

// NumPods returns how many pods the snapshot counts on nodes.
func (s *Snapshot) NumPods() int { return len(s.pods) }

// nodeInfo returns the NodeInfo for name, making a placeholder if needed.
func (s *Snapshot) nodeInfo(name string) *NodeInfo {
	if n, ok := s.byName[name]; ok {
		return n
	}
	n := &NodeInfo{Name: name, Pods: map[string]*PodInfo{}, topo: make([]int32, len(s.topoKeys))}
	for i := range n.topo {
		n.topo[i] = -1
	}
	if k := len(s.free); k > 0 {
		n.slot = s.free[k-1]
		s.free = s.free[:k-1]
		s.slots[n.slot] = n
	} else {
		n.slot = len(s.slots)
		s.slots = append(s.slots, n)
	}
	s.byName[name] = n
	return n
}

// dropIfUnused frees a placeholder node without pods.
func (s *Snapshot) dropIfUnused(n *NodeInfo) {
	if n.Node != nil || len(n.Pods) > 0 || len(n.Nominated) > 0 {
		return
	}
	delete(s.byName, n.Name)
	s.slots[n.slot] = nil
	s.free = append(s.free, n.slot)
}

// SetNode adds or replaces a node.
func (s *Snapshot) SetNode(node *waskv1.Node) error {
	alloc, err := nodeAllocatable(node)
	if err != nil {
		return fmt.Errorf("node %s: %w", node.GetMetadata().GetName(), err)
	}
	n := s.nodeInfo(node.GetMetadata().GetName())
	// Pods are counted per topology value: take them out under the old
	// labels and back in under the new.
	for _, p := range n.Pods {
		s.countOwner(p, n, -1)
	}
	n.Node = node
	n.Allocatable = alloc
	n.memScale, n.cpuScale = 0, 0
	if alloc.Memory > 0 {
		n.memScale = MaxNodeScore / float64(alloc.Memory)
	}
	if alloc.MilliCPU > 0 {
		n.cpuScale = MaxNodeScore / float64(alloc.MilliCPU)
	}
	n.Unschedulable = node.GetSpec().GetUnschedulable()
	n.Ready = false
	for _, c := range node.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			n.Ready = c.GetStatus() == "True"
		}
	}
	n.labels = node.GetMetadata().GetLabels()
	if len(n.softTaints) > 0 {
		s.softTainted--
	}
	n.hardTaints, n.softTaints = n.hardTaints[:0], n.softTaints[:0]
	for _, t := range node.GetSpec().GetTaints() {
		if t.GetEffect() == "PreferNoSchedule" {
			n.softTaints = append(n.softTaints, t)
		} else {
			n.hardTaints = append(n.hardTaints, t)
		}
	}
	if len(n.softTaints) > 0 {
		s.softTainted++
	}
	caps := node.GetStatus().GetCapabilities()
	n.hostModules = make(map[string]bool, len(caps.GetHostModules()))
	n.hostMask = 0
	for _, h := range caps.GetHostModules() {
		n.hostModules[h] = true
		if bit, ok := s.hostBit(h); ok {
			n.hostMask |= 1 << bit
		}
	}
	n.modes = 0
	for _, m := range caps.GetModes() {
		n.modes |= modeBit(m)
	}
	for i, key := range s.topoKeys {
		n.topo[i] = -1
		if v, ok := n.labels[key]; ok {
			id, ok := s.topoValues[i][v]
			if !ok {
				id = int32(len(s.topoValues[i]))
				s.topoValues[i][v] = id
			}
			n.topo[i] = id
		}
	}
	for _, p := range n.Pods {
		s.countOwner(p, n, 1)
	}
	if !n.listed {
		n.listed = true
		i, _ := slices.BinarySearchFunc(s.order, n.Name, func(a *NodeInfo, name string) int { return strings.Compare(a.Name, name) })
		s.order = slices.Insert(s.order, i, n)
	}
	return nil
}

// RemoveNode forgets a node. Pods still counted on it keep it as a
// placeholder that is never chosen.
func (s *Snapshot) RemoveNode(name string) {
	n, ok := s.byName[name]
	if !ok || n.Node == nil {
		return
	}
	if len(n.softTaints) > 0 {
		s.softTainted--
	}
	n.Node, n.Ready, n.listed = nil, false, false
	n.hardTaints, n.softTaints = nil, nil
	i, found := slices.BinarySearchFunc(s.order, name, func(a *NodeInfo, name string) int { return strings.Compare(a.Name, name) })
	if found {
		s.order = slices.Delete(s.order, i, i+1)
	}
	s.dropIfUnused(n)
}

// hostBit interns a host module name into a bit of a uint64 mask; past 64
// names it reports false and checks fall back to names.
func (s *Snapshot) hostBit(name string) (uint, bool) {
	if b, ok := s.hostBits[name]; ok {
		return b, true
	}
	if len(s.hostBits) >= 64 {
		return 0, false
	}
	b := uint(len(s.hostBits))
	s.hostBits[name] = b
	// Nodes that already provide it get the bit.
	for _, n := range s.order {
		if n.hostModules[name] {
			n.hostMask |= 1 << b
		}
	}
	return b, true
}

func modeBit(mode string) uint8 {
	switch mode {
	case "command":
		return 1
	case "http-cgi":
		return 2
	case "http-reactor":
		return 4
	}
	return 0
}

// SetModule adds or replaces a Module.
func (s *Snapshot) SetModule(m *waskv1.Module) {
	s.RemoveModule(m.GetMetadata().GetName())
	mi := &ModuleInfo{
		Name: m.GetMetadata().GetName(), Digest: m.GetSpec().GetDigest(),
		HostModules: m.GetStatus().GetHostModules(), Modes: m.GetStatus().GetModes(),
	}
	for _, h := range mi.HostModules {
		if b, ok := s.hostBit(h); ok {
			mi.hostMask |= 1 << b
		} else {
			mi.overflow = true
		}
	}
	s.modules[mi.Name] = mi
	if mi.Digest != "" {
		if s.digests[mi.Digest] == nil {
			s.digests[mi.Digest] = map[string]*ModuleInfo{}
		}
		s.digests[mi.Digest][mi.Name] = mi
	}
}

// RemoveModule forgets a Module.
func (s *Snapshot) RemoveModule(name string) {
	old, ok := s.modules[name]
	if !ok {
		return
	}
	delete(s.modules, name)
	if byName := s.digests[old.Digest]; byName != nil {
		delete(byName, name)
		if len(byName) == 0 {
			delete(s.digests, old.Digest)
		}
	}
}

// Module resolves a PodSpec.module (a digest or a Module name).
func (s *Snapshot) Module(ref string) (*ModuleInfo, bool) {
	if strings.HasPrefix(ref, "sha256:") {
		byName := s.digests[ref]
		var best *ModuleInfo
		for _, m := range byName { // any Module of that content will do; pick one deterministically
			if best == nil || m.Name < best.Name {
				best = m
			}
		}
		return best, best != nil
	}
	m, ok := s.modules[ref]
	return m, ok
}

// SetPod records a pod read from the cluster. A pod bound to a node is
// counted there (replacing an assumption); a finished or unbound pod is
// not counted, except that an assumed pod stays until the binding is seen
// or Forget is called.
func (s *Snapshot) SetPod(pod *waskv1.Pod) error {
	pi, err := NewPodInfo(pod)
	if err != nil {
		return err
	}
	node := pod.GetSpec().GetNodeName()
	cur, ok := s.pods[pi.Key]
	if node == "" || pi.Finished() {
		if ok && !(node == "" && cur.assumed) {
			s.remove(pi.Key)
		}
		return nil
	}
	if ok {
		s.remove(pi.Key)
	}
	s.add(pi, node, false)
	return nil
}

// RemovePod forgets a pod.
func (s *Snapshot) RemovePod(key string) {
	s.remove(key)
	s.Unnominate(key)
}

// Assume counts pi on node before its binding is seen.
func (s *Snapshot) Assume(pi *PodInfo, node string) {
	s.remove(pi.Key)
	s.Unnominate(pi.Key)
	s.add(pi, node, true)
}

// Forget removes an assumed pod (its binding failed). A pod seen bound is
// kept.
func (s *Snapshot) Forget(key string) {
	if p, ok := s.pods[key]; ok && p.assumed {
		s.remove(key)
	}
}

// Nominate reserves room for pi on node (it preempted pods there).
func (s *Snapshot) Nominate(pi *PodInfo, node string) {
	s.Unnominate(pi.Key)
	n := s.nodeInfo(node)
	n.Nominated = append(n.Nominated, pi)
	s.nominated[pi.Key] = n
}

// Unnominate drops a pod's nomination.
func (s *Snapshot) Unnominate(key string) {
	n, ok := s.nominated[key]
	if !ok {
		return
	}
	delete(s.nominated, key)
	n.Nominated = slices.DeleteFunc(n.Nominated, func(p *PodInfo) bool { return p.Key == key })
	s.dropIfUnused(n)
}

// NominatedNode returns the node a pod is nominated on.
func (s *Snapshot) NominatedNode(key string) (string, bool) {
	n, ok := s.nominated[key]
	if !ok {
		return "", false
	}
	return n.Name, true
}

func (s *Snapshot) add(pi *PodInfo, node string, assumed bool) {
	n := s.nodeInfo(node)
	n.Pods[pi.Key] = pi
	n.Requested = n.Requested.Add(pi.Requests)
	s.pods[pi.Key] = &placed{info: pi, node: node, assumed: assumed}
	s.countOwner(pi, n, 1)
}

func (s *Snapshot) remove(key string) {
	p, ok := s.pods[key]
	if !ok {
		return
	}
	delete(s.pods, key)
	n := s.byName[p.node]
	delete(n.Pods, key)
	n.Requested = n.Requested.Sub(p.info.Requests)
	s.countOwner(p.info, n, -1)
	s.dropIfUnused(n)
}

// countOwner adds delta to the counts of pi's owner on n.
func (s *Snapshot) countOwner(pi *PodInfo, n *NodeInfo, delta int32) {
	if pi.Owner == "" {
		return
	}
	oc := s.owners[pi.Owner]
	if oc == nil {
		oc = &ownerCounts{perTopo: make([][]int32, len(s.topoKeys))}
		s.owners[pi.Owner] = oc
	}
	if n.slot >= len(oc.perSlot) {
		oc.perSlot = append(oc.perSlot, make([]int32, len(s.slots)-len(oc.perSlot))...)
	}
	oc.perSlot[n.slot] += delta
	oc.total += delta
	for i, v := range n.topo {
		if v < 0 {
			continue
		}
		if int(v) >= len(oc.perTopo[i]) {
			oc.perTopo[i] = append(oc.perTopo[i], make([]int32, len(s.topoValues[i])-len(oc.perTopo[i]))...)
		}
		oc.perTopo[i][v] += delta
	}
	if oc.total == 0 {
		delete(s.owners, pi.Owner)
	}
}

// ownerOnNode returns how many pods of owner are counted on n.
func (oc *ownerCounts) onNode(n *NodeInfo) int32 {
	if oc == nil || n.slot >= len(oc.perSlot) {
		return 0
	}
	return oc.perSlot[n.slot]
}

// inTopology returns how many pods of owner are in n's value of topology
// key i, and false if n lacks the label.
func (oc *ownerCounts) inTopology(i int, n *NodeInfo) (int32, bool) {
	v := n.topo[i]
	if v < 0 {
		return 0, false
	}
	if oc == nil || int(v) >= len(oc.perTopo[i]) {
		return 0, true
	}
	return oc.perTopo[i][v], true
}
