package sched

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// feasible runs one filter alone and returns the names of the nodes that
// pass and the failure message.
func feasible(t *testing.T, filter string, nodes []*waskv1.Node, bound []*waskv1.Pod, p *waskv1.Pod, mods ...*waskv1.Module) ([]string, string) {
	t.Helper()
	fw := mustFramework(t, Config{Filters: []string{filter}, Scorers: []ScorerConfig{}})
	s := snap(t, fw, nodes, bound, mods...)
	res := fw.Schedule(s, info(t, p))
	failed := map[string]bool{}
	for _, f := range res.Failures {
		failed[f.Node] = true
	}
	var ok []string
	for _, n := range s.Nodes() {
		if !failed[n.Name] {
			ok = append(ok, n.Name)
		}
	}
	if len(ok) == 0 {
		if res.Node != "" {
			t.Fatalf("no node passed but Schedule chose %q", res.Node)
		}
		return nil, res.Message()
	}
	if !slices.Contains(ok, res.Node) {
		t.Fatalf("Schedule chose %q, not one of the feasible %v", res.Node, ok)
	}
	return ok, res.Message()
}

func TestFilters(t *testing.T) {
	gpuTaint := taint("dedicated", "gpu", "NoSchedule")
	tests := []struct {
		name    string
		filter  string
		nodes   []*waskv1.Node
		bound   []*waskv1.Pod
		pod     *waskv1.Pod
		mods    []*waskv1.Module
		want    []string
		wantMsg string
	}{
		{name: "ready and schedulable", filter: NodeReadyName,
			nodes: []*waskv1.Node{node("a"), node("b", notReady), node("c", cordoned)},
			pod:   pod("p"), want: []string{"a"}},
		{name: "none ready", filter: NodeReadyName,
			nodes: []*waskv1.Node{node("b", notReady), node("c", cordoned), node("d", cordoned)},
			pod:   pod("p"), wantMsg: "0/3 nodes are available: 2 node(s) were unschedulable, 1 node(s) were not ready."},
		{name: "memory fits exactly", filter: ResourceFitName,
			nodes: []*waskv1.Node{node("a", alloc("128Mi", "1", "10")), node("b", alloc("100Mi", "1", "10"))},
			bound: []*waskv1.Pod{pod("x", requests("64Mi", ""), onNode("a")), pod("y", requests("64Mi", ""), onNode("b"))},
			pod:   pod("p", requests("64Mi", "")), want: []string{"a"}},
		{name: "request from limit", filter: ResourceFitName,
			nodes: []*waskv1.Node{node("a", alloc("128Mi", "1", "10"))},
			pod: pod("p", func(p *waskv1.Pod) {
				p.Spec.Resources.Limits = map[string]string{"memory": "256Mi"}
			}), wantMsg: "0/1 nodes are available: 1 insufficient memory."},
		{name: "cpu and pod count", filter: ResourceFitName,
			nodes: []*waskv1.Node{node("a", alloc("1Gi", "500m", "10")), node("b", alloc("1Gi", "4", "1")), node("c", alloc("1Gi", "4", "2"))},
			bound: []*waskv1.Pod{pod("x", onNode("b")), pod("y", onNode("c"))},
			pod:   pod("p", requests("", "600m")), want: []string{"c"}},
		{name: "finished pods free their room", filter: ResourceFitName,
			nodes: []*waskv1.Node{node("a", alloc("64Mi", "1", "1"))},
			bound: []*waskv1.Pod{pod("x", requests("64Mi", ""), onNode("a"), func(p *waskv1.Pod) { p.Status.Phase = "Succeeded" })},
			pod:   pod("p", requests("64Mi", "")), want: []string{"a"}},
		{name: "all resources short", filter: ResourceFitName,
			nodes: []*waskv1.Node{node("a", alloc("1Mi", "4", "10")), node("b", alloc("1Gi", "100m", "10")), node("c", alloc("1Gi", "4", "0"))},
			pod:   pod("p", requests("2Mi", "1")), wantMsg: "0/3 nodes are available: 1 insufficient cpu, 1 insufficient memory, 1 too many pods."},
		{name: "node selector", filter: NodeAffinityName,
			nodes: []*waskv1.Node{node("a", labels("disk", "ssd")), node("b", labels("disk", "hdd")), node("c")},
			pod:   pod("p", selector("disk", "ssd")), want: []string{"a"}},
		{name: "required affinity In/NotIn/Exists/Gt", filter: NodeAffinityName,
			nodes: []*waskv1.Node{node("a", labels("zone", "z1", "gen", "3")), node("b", labels("zone", "z2", "gen", "5")), node("c", labels("gen", "9"))},
			pod: pod("p", required(
				&waskv1.NodeSelectorTerm{MatchExpressions: []*waskv1.NodeSelectorRequirement{
					{Key: "zone", Operator: "Exists"}, {Key: "zone", Operator: "NotIn", Values: []string{"z1"}},
				}},
				term("gen", "Gt", "8"),
			)), want: []string{"b", "c"}},
		{name: "required affinity DoesNotExist/Lt", filter: NodeAffinityName,
			nodes: []*waskv1.Node{node("a", labels("gen", "3")), node("b", labels("gen", "5", "old", "")), node("c", labels("gen", "x"))},
			pod: pod("p", required(&waskv1.NodeSelectorTerm{MatchExpressions: []*waskv1.NodeSelectorRequirement{
				{Key: "old", Operator: "DoesNotExist"}, {Key: "gen", Operator: "Lt", Values: []string{"6"}},
			}})), want: []string{"a"}},
		{name: "affinity matches nothing", filter: NodeAffinityName,
			nodes: []*waskv1.Node{node("a"), node("b")},
			pod:   pod("p", required(term("zone", "In", "z9"))), wantMsg: "0/2 nodes are available: 2 node(s) didn't match the pod's node selector/affinity."},
		{name: "taints", filter: TaintTolerationName,
			nodes: []*waskv1.Node{node("a", gpuTaint), node("b", taint("x", "", "NoExecute")), node("c", taint("soft", "", "PreferNoSchedule")), node("d")},
			pod:   pod("p"), want: []string{"c", "d"}},
		{name: "taints message", filter: TaintTolerationName,
			nodes: []*waskv1.Node{node("a", gpuTaint), node("b", gpuTaint), node("c", taint("x", "y", "NoExecute"))},
			pod:   pod("p"), wantMsg: "0/3 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) had untolerated taint {x: y}."},
		{name: "toleration Equal", filter: TaintTolerationName,
			nodes: []*waskv1.Node{node("a", gpuTaint), node("b", taint("dedicated", "tpu", "NoSchedule"))},
			pod:   pod("p", tolerate("dedicated", "Equal", "gpu", "NoSchedule")), want: []string{"a"}},
		{name: "toleration Exists any value, wrong effect", filter: TaintTolerationName,
			nodes: []*waskv1.Node{node("a", gpuTaint), node("b", taint("dedicated", "tpu", "NoExecute"))},
			pod:   pod("p", tolerate("dedicated", "Exists", "", "NoSchedule")), want: []string{"a"}},
		{name: "toleration of everything", filter: TaintTolerationName,
			nodes: []*waskv1.Node{node("a", gpuTaint), node("b", taint("x", "", "NoExecute"))},
			pod:   pod("p", tolerate("", "Exists", "", "")), want: []string{"a", "b"}},
		{name: "host modules", filter: HostCapabilitiesName,
			nodes: []*waskv1.Node{node("a"), node("b", hostModules("wask")), node("c", hostModules())},
			pod:   pod("p"), want: []string{"a"}},
		{name: "host modules message", filter: HostCapabilitiesName,
			nodes: []*waskv1.Node{node("b", hostModules("wask")), node("c", hostModules())},
			pod:   pod("p"), wantMsg: `0/2 nodes are available: 2 node(s) lack host module "wasi_snapshot_preview1".`},
		{name: "mode", filter: HostCapabilitiesName,
			nodes: []*waskv1.Node{node("a", modes("command")), node("b", modes("http-cgi"))},
			pod:   pod("p", mode("http-cgi")), want: []string{"b"}},
		{name: "module by digest", filter: HostCapabilitiesName,
			nodes: []*waskv1.Node{node("a"), node("b", hostModules("wask"))},
			pod:   pod("p", moduleRef(helloDigest)), want: []string{"a"}},
		{name: "module unknown", filter: HostCapabilitiesName,
			nodes: []*waskv1.Node{node("a")},
			pod:   pod("p", moduleRef("nope")), wantMsg: `0/1 nodes are available: the pod's module "nope" is not known (no Module object names it).`},
		{name: "module lacks mode", filter: HostCapabilitiesName,
			nodes: []*waskv1.Node{node("a")},
			pod:   pod("p", mode("http-reactor")), wantMsg: `0/1 nodes are available: module "hello" does not run in mode "http-reactor" (it runs in [command http-cgi]).`},
		{name: "host paths", filter: HostCapabilitiesName,
			nodes: []*waskv1.Node{node("a"), node("b", hostPaths("/srv")), node("c", hostPaths("/")), node("d", hostPaths("/srv/data"))},
			pod:   pod("p", mounts("/srv/data", "/srv/logs")), want: []string{"b", "c"}},
		{name: "host paths message", filter: HostCapabilitiesName,
			nodes: []*waskv1.Node{node("a"), node("d", hostPaths("/srv/data"))},
			pod:   pod("p", mounts("/etc")), wantMsg: `0/2 nodes are available: 2 node(s) don't allow mounting "/etc".`},
		{name: "many host modules (past the 64-bit mask)", filter: HostCapabilitiesName,
			nodes: []*waskv1.Node{node("a", hostModules(manyNames(70)...)), node("b", hostModules(manyNames(69)...))},
			mods:  []*waskv1.Module{module("hello", manyNames(70), "command")},
			pod:   pod("p"), want: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := feasible(t, tt.filter, tt.nodes, tt.bound, tt.pod, tt.mods...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("feasible nodes (-want +got):\n%s", diff)
			}
			if tt.want == nil && msg != tt.wantMsg {
				t.Errorf("message:\n got %s\nwant %s", msg, tt.wantMsg)
			}
		})
	}
}

func manyNames(n int) []string {
	var out []string
	for i := range n {
		out = append(out, "host"+string(rune('a'+i/26))+string(rune('a'+i%26)))
	}
	return out
}

func TestNominatedPodsReserveRoom(t *testing.T) {
	fw := mustFramework(t, Config{Filters: []string{ResourceFitName}, Scorers: []ScorerConfig{}})
	s := snap(t, fw, []*waskv1.Node{node("a", alloc("100Mi", "1", "10"))}, nil)
	s.Nominate(info(t, pod("big", requests("80Mi", ""), priority(10))), "a")
	if res := fw.Schedule(s, info(t, pod("low", requests("30Mi", ""), priority(5)))); res.Node != "" {
		t.Errorf("a lower-priority pod took the room nominated for a higher one: %+v", res)
	}
	if res := fw.Schedule(s, info(t, pod("high", requests("30Mi", ""), priority(20)))); res.Node != "a" {
		t.Errorf("a higher-priority pod did not get the node: %s", res.Message())
	}
	if res := fw.Schedule(s, info(t, pod("big", requests("80Mi", ""), priority(10)))); res.Node != "a" {
		t.Errorf("the nominated pod itself does not fit: %s", res.Message())
	}
}

func TestBadQuantities(t *testing.T) {
	_, err := NewPodInfo(pod("p", requests("lots", "")))
	if err == nil || err.Error() != `pod default/p: spec.resources.requests[memory]: "lots" is not a quantity (a number with an optional suffix such as m, k, M, G, Ki, Mi, Gi)` {
		t.Errorf("NewPodInfo: %v", err)
	}
	fw := mustFramework(t, Config{})
	if err := fw.NewSnapshot().SetNode(node("a", alloc("1Gi", "x", "3"))); err == nil {
		t.Error("SetNode accepted cpu \"x\"")
	}
}

func TestQuantity(t *testing.T) {
	for _, tt := range []struct {
		in    string
		scale int64
		want  int64
	}{
		{"64Mi", 1, 64 << 20}, {"500m", 1000, 500}, {"1.5", 1000, 1500}, {"1", 1000, 1000},
		{"1k", 1, 1000}, {"1m", 1, 1}, {"0.1m", 1000, 1}, {"2Gi", 1, 2 << 30}, {"+3", 1, 3}, {"9Ei", 1000, 1<<63 - 1},
	} {
		got, err := scaledQuantity(tt.in, tt.scale)
		if err != nil || got != tt.want {
			t.Errorf("scaledQuantity(%q, %d) = %d, %v; want %d", tt.in, tt.scale, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "Mi", "1..2", "1x", "-1", "."} {
		if _, err := scaledQuantity(bad, 1); err == nil {
			t.Errorf("scaledQuantity(%q) accepted", bad)
		}
	}
}

// FuzzQuantity checks that the fast path of scaledQuantity agrees with the
// exact one wherever it accepts, and that nothing panics.
func FuzzQuantity(f *testing.F) {
	for _, s := range []string{"64Mi", "500m", "1.5", "2Gi", "999999999Ki", "1e3", "7k"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, milli bool) {
		scale := int64(1)
		if milli {
			scale = 1000
		}
		got, err := exactQuantity(s, scale)
		fast, ok := fastQuantity(s, scale)
		if !ok {
			return
		}
		if err != nil || fast != got {
			t.Fatalf("%q: fast %d, exact %d (%v)", s, fast, got, err)
		}
	})
}
