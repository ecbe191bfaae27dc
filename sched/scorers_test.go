package sched

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// scores runs one scorer alone on every node of the snapshot.
func scores(t *testing.T, scorer string, nodes []*waskv1.Node, bound []*waskv1.Pod, p *waskv1.Pod) map[string]int64 {
	t.Helper()
	fw := mustFramework(t, Config{Filters: []string{}, Scorers: []ScorerConfig{{Name: scorer, Weight: 1}}})
	s := snap(t, fw, nodes, bound)
	out := make([]int64, len(s.Nodes()))
	fw.scorers[0].Score(s, info(t, p), s.Nodes(), out)
	got := map[string]int64{}
	for i, n := range s.Nodes() {
		got[n.Name] = out[i]
	}
	return got
}

func TestScorers(t *testing.T) {
	zoned := func(name, zone string) *waskv1.Node { return node(name, labels("zone", zone)) }
	tests := []struct {
		name   string
		scorer string
		nodes  []*waskv1.Node
		bound  []*waskv1.Pod
		pod    *waskv1.Pod
		want   map[string]int64
	}{
		{name: "least allocated", scorer: LeastAllocatedName,
			nodes: []*waskv1.Node{node("a", alloc("100Mi", "1", "")), node("b", alloc("100Mi", "1", ""))},
			bound: []*waskv1.Pod{pod("x", requests("50Mi", "500m"), onNode("b"))},
			pod:   pod("p", requests("10Mi", "100m")),
			want:  map[string]int64{"a": 90, "b": 40}},
		{name: "most allocated", scorer: MostAllocatedName,
			nodes: []*waskv1.Node{node("a", alloc("100Mi", "1", "")), node("b", alloc("100Mi", "1", ""))},
			bound: []*waskv1.Pod{pod("x", requests("50Mi", "500m"), onNode("b"))},
			pod:   pod("p", requests("10Mi", "100m")),
			want:  map[string]int64{"a": 10, "b": 60}},
		{name: "allocated, memory only", scorer: LeastAllocatedName,
			nodes: []*waskv1.Node{node("a", alloc("100Mi", "", ""))},
			pod:   pod("p", requests("25Mi", "")),
			want:  map[string]int64{"a": 75}},
		{name: "owner spread", scorer: OwnerSpreadName,
			nodes: []*waskv1.Node{node("a"), node("b"), node("c")},
			bound: []*waskv1.Pod{
				pod("x1", owned("rs1"), onNode("a")), pod("x2", owned("rs1"), onNode("a")),
				pod("x3", owned("rs1"), onNode("b")), pod("y", owned("rs2"), onNode("c")),
			},
			pod:  pod("p", owned("rs1")),
			want: map[string]int64{"a": 0, "b": 50, "c": 100}},
		{name: "owner spread, no owner", scorer: OwnerSpreadName,
			nodes: []*waskv1.Node{node("a"), node("b")},
			bound: []*waskv1.Pod{pod("x1", onNode("a"))},
			pod:   pod("p"),
			want:  map[string]int64{"a": 0, "b": 0}},
		{name: "topology spread", scorer: TopologySpreadName,
			nodes: []*waskv1.Node{zoned("a1", "z1"), zoned("a2", "z1"), zoned("b1", "z2"), zoned("c1", "z3"), node("none")},
			bound: []*waskv1.Pod{
				pod("x1", owned("rs1"), onNode("a1")), pod("x2", owned("rs1"), onNode("a2")),
				pod("x3", owned("rs1"), onNode("b1")),
			},
			pod:  pod("p", owned("rs1")),
			want: map[string]int64{"a1": 0, "a2": 0, "b1": 50, "c1": 100, "none": 0}},
		{name: "preferred affinity", scorer: NodePreferenceName,
			nodes: []*waskv1.Node{node("a", labels("disk", "ssd", "zone", "z1")), node("b", labels("disk", "ssd")), node("c")},
			pod: pod("p", preferred(
				&waskv1.PreferredSchedulingTerm{Weight: 30, Preference: term("disk", "In", "ssd")},
				&waskv1.PreferredSchedulingTerm{Weight: 10, Preference: term("zone", "Exists")},
			)),
			want: map[string]int64{"a": 100, "b": 75, "c": 0}},
		{name: "PreferNoSchedule taints", scorer: TaintPreferenceName,
			nodes: []*waskv1.Node{
				node("a", taint("s1", "", "PreferNoSchedule"), taint("s2", "", "PreferNoSchedule")),
				node("b", taint("s1", "", "PreferNoSchedule"), taint("hard", "", "NoSchedule")),
				node("c", taint("s2", "", "PreferNoSchedule")),
			},
			pod:  pod("p", tolerate("s2", "Exists", "", "")),
			want: map[string]int64{"a": 0, "b": 0, "c": 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, scores(t, tt.scorer, tt.nodes, tt.bound, tt.pod)); diff != "" {
				t.Errorf("scores (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScheduleBreakdownAndSpread(t *testing.T) {
	fw := mustFramework(t, Config{})
	nodes := []*waskv1.Node{node("a", labels("zone", "z1")), node("b", labels("zone", "z1")), node("c", labels("zone", "z2"))}
	s := snap(t, fw, nodes, nil)
	placed := map[string]int{}
	for i := range 6 {
		p := info(t, pod("p"+string(rune('0'+i)), owned("rs1"), requests("16Mi", "100m")))
		res := fw.Schedule(s, p)
		if res.Node == "" {
			t.Fatalf("no node: %s", res.Message())
		}
		var sum int64
		for _, b := range res.Breakdown {
			sum += b.Score * b.Weight
		}
		if sum != res.Score || len(res.Breakdown) != len(DefaultScorers) {
			t.Fatalf("breakdown %+v does not add up to %d", res.Breakdown, res.Score)
		}
		s.Assume(p, res.Node)
		placed[res.Node]++
	}
	if diff := cmp.Diff(map[string]int{"a": 2, "b": 2, "c": 2}, placed); diff != "" {
		t.Errorf("6 pods of one owner on 3 nodes (-want +got):\n%s", diff)
	}
}

func TestScheduleDeterministicTieBreak(t *testing.T) {
	var nodes []*waskv1.Node
	for i := range 20 {
		nodes = append(nodes, node("n"+string(rune('a'+i))))
	}
	choose := func(seed uint64, name string) string {
		fw := mustFramework(t, Config{Seed: seed})
		return fw.Schedule(snap(t, fw, nodes, nil), info(t, pod(name))).Node
	}
	distinct := map[string]bool{}
	for i := range 20 {
		name := "p" + string(rune('a'+i))
		first := choose(1, name)
		if again := choose(1, name); again != first {
			t.Fatalf("same snapshot, pod and seed chose %s then %s", first, again)
		}
		distinct[first] = true
	}
	if len(distinct) < 5 {
		t.Errorf("20 pods tying on 20 empty nodes went to only %d distinct nodes", len(distinct))
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Filters: []string{"Nope"}}, `scheduler config: filters[0]: "Nope" is not a filter plugin (known: [HostCapabilities NodeAffinity NodeReady ResourceFit TaintToleration])`},
		{Config{Scorers: []ScorerConfig{{Name: NodeReadyName}}}, `scheduler config: scorers[0].name: "NodeReady" is not a score plugin (known: [LeastAllocated MostAllocated NodePreference OwnerSpread TaintPreference TopologySpread])`},
		{Config{Scorers: []ScorerConfig{{Name: LeastAllocatedName, Weight: -1}}}, `scheduler config: scorers[0].weight: must be 1 to 1000, not -1`},
	} {
		if _, err := NewFramework(tt.cfg); err == nil || err.Error() != tt.want {
			t.Errorf("New: %v\nwant %s", err, tt.want)
		}
	}
}

// evenNodes is a custom plugin: a filter and a scorer in one struct.
type evenNodes struct{}

func (evenNodes) Name() string { return "EvenNodes" }
func (evenNodes) PreFilter(*Snapshot, *PodInfo) (NodeFilter, Status) {
	return func(n *NodeInfo) Status {
		if n.Labels()["even"] != "true" {
			return Status{UnschedulableAndUnresolvable, "node(s) were odd"}
		}
		return Status{}
	}, Status{}
}
func (evenNodes) Score(_ *Snapshot, _ *PodInfo, nodes []*NodeInfo, scores []int64) {
	for i, n := range nodes {
		if n.Name == "d" {
			scores[i] = MaxNodeScore
		}
	}
}

func TestCustomPlugin(t *testing.T) {
	fw := mustFramework(t, Config{
		Filters: append([]string{"EvenNodes"}, DefaultFilters...),
		Scorers: append([]ScorerConfig{{Name: "EvenNodes", Weight: 100}}, DefaultScorers...),
		Plugins: []Plugin{evenNodes{}},
	})
	s := snap(t, fw, []*waskv1.Node{node("a"), node("b", labels("even", "true")), node("c"), node("d", labels("even", "true"))}, nil)
	res := fw.Schedule(s, info(t, pod("p")))
	if res.Node != "d" || res.Breakdown[0] != (PluginScore{"EvenNodes", 100, 100}) {
		t.Errorf("custom plugin: node %q, breakdown %+v", res.Node, res.Breakdown)
	}
	s = snap(t, fw, []*waskv1.Node{node("a"), node("c")}, nil)
	res = fw.Schedule(s, info(t, pod("p")))
	if want := "0/2 nodes are available: 2 node(s) were odd."; res.Message() != want {
		t.Errorf("message %q, want %q", res.Message(), want)
	}
}

func TestPreempt(t *testing.T) {
	fw := mustFramework(t, Config{})
	nodes := []*waskv1.Node{
		node("a", alloc("100Mi", "4", "")),
		node("b", alloc("100Mi", "4", "")),
		node("c", alloc("100Mi", "4", ""), taint("dedicated", "gpu", "NoSchedule")),
	}
	bound := []*waskv1.Pod{
		pod("a1", requests("40Mi", ""), priority(1), onNode("a")),
		pod("a2", requests("40Mi", ""), priority(5), onNode("a")),
		pod("b1", requests("30Mi", ""), priority(2), onNode("b")),
		pod("b2", requests("30Mi", ""), priority(2), onNode("b")),
		pod("b3", requests("30Mi", ""), priority(100), onNode("b")),
		pod("c1", requests("90Mi", ""), onNode("c")),
	}
	s := snap(t, fw, nodes, bound)
	p := info(t, pod("p", requests("50Mi", ""), priority(10)))
	res := fw.Schedule(s, p)
	if res.Node != "" {
		t.Fatalf("fits without preemption on %s", res.Node)
	}
	pre, ok := fw.Preempt(s, p, &res)
	// On a, evicting a1 (priority 1) is enough; on b two pods of priority 2
	// must go; c's taint is not resolvable.
	var victims []string
	for _, v := range pre.Victims {
		victims = append(victims, v.Key)
	}
	if !ok || pre.Node != "a" || !cmp.Equal(victims, []string{"default/a1"}) {
		t.Errorf("Preempt = %s %v %v, want a [default/a1]", pre.Node, victims, ok)
	}
	low := info(t, pod("low", requests("50Mi", ""), priority(1)))
	res = fw.Schedule(s, low)
	if _, ok := fw.Preempt(s, low, &res); ok {
		t.Error("a priority-1 pod preempted pods of priority ≥ 1")
	}
}

func TestLoadConfig(t *testing.T) {
	path := t.TempDir() + "/sched.yaml"
	writeFile(t, path, "seed: 7\nfilters: [NodeReady, ResourceFit]\nscorers:\n  - {name: MostAllocated, weight: 3}\ntopologyKeys: [rack]\ninitialBackoff: 2s\n")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Seed: 7, Filters: []string{"NodeReady", "ResourceFit"}, Scorers: []ScorerConfig{{"MostAllocated", 3}}, TopologyKeys: []string{"rack"}, InitialBackoff: 2 * time.Second}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("LoadConfig (-want +got):\n%s", diff)
	}
	writeFile(t, path, "seed: 7\nweights: {}\n")
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "field weights not found") {
		t.Errorf("unknown field: %v", err)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSoftTaintCount(t *testing.T) {
	fw := mustFramework(t, Config{})
	s := snap(t, fw, []*waskv1.Node{node("a", taint("s", "", "PreferNoSchedule")), node("b")}, nil)
	if s.softTainted != 1 {
		t.Fatalf("softTainted = %d, want 1", s.softTainted)
	}
	if err := s.SetNode(node("a", taint("s", "", "PreferNoSchedule"), taint("t", "", "PreferNoSchedule"))); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNode(node("b", taint("s", "", "PreferNoSchedule"))); err != nil {
		t.Fatal(err)
	}
	if s.softTainted != 2 {
		t.Fatalf("softTainted = %d, want 2", s.softTainted)
	}
	s.SetNode(node("a"))
	s.RemoveNode("b")
	if s.softTainted != 0 {
		t.Fatalf("softTainted = %d, want 0", s.softTainted)
	}
}
