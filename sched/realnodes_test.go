package sched

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/internal/testcluster"
	"github.com/wask-dev/wask/wasmlet"
)

// TestSchedulerWithRealNodes runs the scheduler against real wasmlets (the
// nodes register themselves, with their capacity and capabilities, and run
// what is bound to them): pods of one owner spread over the nodes and
// reach Running; a pod too big for every node stays Pending with the
// reason, and is placed, and runs, as soon as a node that fits joins.
func TestSchedulerWithRealNodes(t *testing.T) {
	c := startCluster(t)
	wasm, err := os.ReadFile(filepath.Join("..", "wasm-samples", "tiny", "tiny.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	c.PushModule(t, "tiny", wasm)
	small := func(cfg *wasmlet.Config) {
		cfg.Capacity = wasmlet.Capacity{Memory: 256 << 20, CPUMilli: 2000, Pods: 50}
	}
	c.AddNode(t, testcluster.NodeOptions{Name: "real-1", Config: small})
	c.AddNode(t, testcluster.NodeOptions{Name: "real-2", Config: small})
	runScheduler(t, c.Client, Config{})

	tiny := func(p *waskv1.Pod) { p.Spec.Module, p.Spec.Mode = "tiny", "http-reactor" }
	for i := range 4 {
		createPod(t, c.Client, pod(fmt.Sprintf("web-%d", i), tiny, owned("rs-web"), requests("16Mi", "100m")))
	}
	perNode := map[string]int{}
	for i := range 4 {
		name := fmt.Sprintf("web-%d", i)
		waitFor(t, name+" running on a real node", 30*time.Second, func() (bool, string) {
			p := getPod(t, c.Client, name)
			return p.GetSpec().GetNodeName() != "" && p.GetStatus().GetPhase() == "Running", fmt.Sprint(p.GetSpec().GetNodeName(), " ", p.GetStatus())
		})
		perNode[getPod(t, c.Client, name).GetSpec().GetNodeName()]++
	}
	if diff := cmp.Diff(map[string]int{"real-1": 2, "real-2": 2}, perNode); diff != "" {
		t.Errorf("pods per node (-want +got):\n%s", diff)
	}

	createPod(t, c.Client, pod("huge", tiny, requests("1Gi", "")))
	want := "0/2 nodes are available: 2 insufficient memory."
	waitFor(t, "huge reported unschedulable", 30*time.Second, func() (bool, string) {
		cond := podCondition(getPod(t, c.Client, "huge"), "PodScheduled")
		return cond.GetStatus() == "False" && cond.GetMessage() == want, fmt.Sprint(cond)
	})
	c.AddNode(t, testcluster.NodeOptions{Name: "real-big", Config: func(cfg *wasmlet.Config) {
		cfg.Capacity = wasmlet.Capacity{Memory: 4 << 30, CPUMilli: 2000, Pods: 50}
	}})
	waitFor(t, "huge running on the node that joined", 30*time.Second, func() (bool, string) {
		p := getPod(t, c.Client, "huge")
		return p.GetSpec().GetNodeName() == "real-big" && p.GetStatus().GetPhase() == "Running", fmt.Sprint(p.GetSpec().GetNodeName(), " ", p.GetStatus())
	})
}
