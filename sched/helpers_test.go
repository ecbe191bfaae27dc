package sched

import (
	"testing"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// Builders of API objects for tests.

var allModes = []string{"command", "http-cgi", "http-reactor"}

func node(name string, opts ...func(*waskv1.Node)) *waskv1.Node {
	n := &waskv1.Node{
		Metadata: &waskv1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Spec:     &waskv1.NodeSpec{},
		Status: &waskv1.NodeStatus{
			Allocatable: map[string]string{"memory": "4Gi", "cpu": "4", "pods": "110"},
			Capabilities: &waskv1.NodeCapabilities{
				HostModules: []string{"wasi_snapshot_preview1", "wask"},
				Modes:       allModes,
			},
			Conditions: []*waskv1.Condition{{Type: "Ready", Status: "True"}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func labels(kv ...string) func(*waskv1.Node) {
	return func(n *waskv1.Node) {
		for i := 0; i < len(kv); i += 2 {
			n.Metadata.Labels[kv[i]] = kv[i+1]
		}
	}
}

func taint(key, value, effect string) func(*waskv1.Node) {
	return func(n *waskv1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, &waskv1.Taint{Key: key, Value: value, Effect: effect})
	}
}

func cordoned(n *waskv1.Node) { n.Spec.Unschedulable = true }

func notReady(n *waskv1.Node) { n.Status.Conditions[0].Status = "Unknown" }

func alloc(mem, cpu, pods string) func(*waskv1.Node) {
	return func(n *waskv1.Node) {
		n.Status.Allocatable = map[string]string{}
		for k, v := range map[string]string{"memory": mem, "cpu": cpu, "pods": pods} {
			if v != "" {
				n.Status.Allocatable[k] = v
			}
		}
	}
}

func hostModules(names ...string) func(*waskv1.Node) {
	return func(n *waskv1.Node) { n.Status.Capabilities.HostModules = names }
}

func hostPaths(paths ...string) func(*waskv1.Node) {
	return func(n *waskv1.Node) { n.Status.Capabilities.HostPaths = paths }
}

func mounts(hostPaths ...string) func(*waskv1.Pod) {
	return func(p *waskv1.Pod) {
		for _, h := range hostPaths {
			p.Spec.Mounts = append(p.Spec.Mounts, &waskv1.Mount{HostPath: h, Path: h})
		}
	}
}

func modes(m ...string) func(*waskv1.Node) {
	return func(n *waskv1.Node) { n.Status.Capabilities.Modes = m }
}

func pod(name string, opts ...func(*waskv1.Pod)) *waskv1.Pod {
	p := &waskv1.Pod{
		Metadata: &waskv1.ObjectMeta{Name: name, Namespace: "default", Uid: name + "-uid"},
		Spec: &waskv1.PodSpec{Module: "hello", Mode: "command", Resources: &waskv1.ResourceRequirements{
			Requests: map[string]string{},
		}},
		Status: &waskv1.PodStatus{Phase: "Pending"},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func requests(mem, cpu string) func(*waskv1.Pod) {
	return func(p *waskv1.Pod) {
		if mem != "" {
			p.Spec.Resources.Requests["memory"] = mem
		}
		if cpu != "" {
			p.Spec.Resources.Requests["cpu"] = cpu
		}
	}
}

func selector(kv ...string) func(*waskv1.Pod) {
	return func(p *waskv1.Pod) {
		p.Spec.NodeSelector = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func required(terms ...*waskv1.NodeSelectorTerm) func(*waskv1.Pod) {
	return func(p *waskv1.Pod) {
		p.Spec.Affinity = &waskv1.Affinity{NodeAffinity: &waskv1.NodeAffinity{Required: terms}}
	}
}

func preferred(terms ...*waskv1.PreferredSchedulingTerm) func(*waskv1.Pod) {
	return func(p *waskv1.Pod) {
		p.Spec.Affinity = &waskv1.Affinity{NodeAffinity: &waskv1.NodeAffinity{Preferred: terms}}
	}
}

func term(key, op string, values ...string) *waskv1.NodeSelectorTerm {
	return &waskv1.NodeSelectorTerm{MatchExpressions: []*waskv1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}
}

func tolerate(key, op, value, effect string) func(*waskv1.Pod) {
	return func(p *waskv1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, &waskv1.Toleration{Key: key, Operator: op, Value: value, Effect: effect})
	}
}

func owned(uid string) func(*waskv1.Pod) {
	return func(p *waskv1.Pod) {
		p.Metadata.OwnerReferences = []*waskv1.OwnerReference{{Kind: "ReplicaSet", Name: "rs", Uid: uid, Controller: true}}
	}
}

func priority(n int32) func(*waskv1.Pod) {
	return func(p *waskv1.Pod) { p.Spec.Priority = &n }
}

func onNode(name string) func(*waskv1.Pod) {
	return func(p *waskv1.Pod) { p.Spec.NodeName = name }
}

func mode(m string) func(*waskv1.Pod) {
	return func(p *waskv1.Pod) { p.Spec.Mode = m }
}

func moduleRef(ref string) func(*waskv1.Pod) {
	return func(p *waskv1.Pod) { p.Spec.Module = ref }
}

const helloDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000001"

func module(name string, host []string, modes ...string) *waskv1.Module {
	return &waskv1.Module{
		Metadata: &waskv1.ObjectMeta{Name: name},
		Spec:     &waskv1.ModuleSpec{Digest: helloDigest},
		Status:   &waskv1.ModuleStatus{HostModules: host, Modes: modes},
	}
}

var hello = module("hello", []string{"wasi_snapshot_preview1"}, "command", "http-cgi")

// snap builds a snapshot for fw; pods with a node name are counted there.
func snap(t testing.TB, fw *Framework, nodes []*waskv1.Node, pods []*waskv1.Pod, mods ...*waskv1.Module) *Snapshot {
	t.Helper()
	s := fw.NewSnapshot()
	if len(mods) == 0 {
		mods = []*waskv1.Module{hello}
	}
	for _, m := range mods {
		s.SetModule(m)
	}
	for _, n := range nodes {
		if err := s.SetNode(n); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pods {
		if err := s.SetPod(p); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func mustFramework(t testing.TB, cfg Config) *Framework {
	t.Helper()
	fw, err := NewFramework(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

func info(t testing.TB, p *waskv1.Pod) *PodInfo {
	t.Helper()
	pi, err := NewPodInfo(p)
	if err != nil {
		t.Fatal(err)
	}
	return pi
}
