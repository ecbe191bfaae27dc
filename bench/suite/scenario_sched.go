package suite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/testcluster"
	"github.com/wask-dev/wask/sched"
)

func init() {
	register(Scenario{Name: "sched", Doc: "10,000 pods on 1,000 simulated nodes, end to end through a real apiserver and store", Run: runSched})
}

func runSched(ctx context.Context, env *Env) error {
	nodes, pods := env.Quick(50, 1000), env.Quick(500, 10000)
	c := &Case{Name: fmt.Sprintf("%d pods on %d simulated nodes, created by 64 clients (create → bound)", pods, nodes)}
	round := 0
	cs := []Contender{{"wask scheduler (apiserver + store)", func(ctx context.Context) (Sample, error) {
		round++
		return schedRound(ctx, env, filepath.Join(env.dir, fmt.Sprintf("round-%d", round)), nodes, pods)
	}}}
	if env.Opts.Quick {
		// Kubernetes' module graph is ~300 MB to fetch and a minute to
		// build cold: too much for a quick run (CI), so only full runs have it.
		env.Report.Note("kube-scheduler was left out: --quick does not build it (Kubernetes' dependencies)")
	} else if bin, why := buildPeer(ctx, env, "kubesched"); bin != "" {
		cs = append(cs, Contender{"kube-scheduler v1.37.2 (fake clientset)", func(ctx context.Context) (Sample, error) {
			return runPeer(ctx, bin, "-nodes", fmt.Sprint(nodes), "-pods", fmt.Sprint(pods), "-writers", "64")
		}})
	} else {
		env.Report.Note("kube-scheduler was left out: %s", why)
	}
	err := env.Compare(ctx, c, cs...)
	env.Report.Note("In one process, as sched's own BenchmarkScale10kPods1kNodes: a store (synced writes) and apiserver over TLS on loopback (internal/testcluster), the scheduler, simulated nodes (Node, status, Lease; no sandboxes, like kwok) in 3 zones, and 64 clients creating pods over 8 connections. Throughput is pods bound per second from the first create to the last binding; latency is each pod's creation to its PodScheduled condition, by the apiserver's timestamps.")
	env.Report.Note("kube-scheduler is k8s.io/kubernetes v1.37.2's pkg/scheduler with its default profile, in its own process (bench/peers/kubesched, a module of its own), on a fake clientset: simulated nodes alike, pods with the same requests created by 64 goroutines, binding done by a reactor. No apiserver or store is behind it (no validation, no fsync), so it measures kube-scheduler's placement alone, while wask's side includes its real apiserver and store.")
	return err
}

func schedRound(ctx context.Context, env *Env, dir string, numNodes, numPods int) (Sample, error) {
	os.MkdirAll(dir, 0o755)
	cp, err := testcluster.New(testcluster.Options{Dir: dir})
	if err != nil {
		return Sample{}, err
	}
	defer cp.Close()
	clients := make([]*client.Client, 8)
	for i := range clients {
		if clients[i], err = client.New(cp.ClientConfig()); err != nil {
			return Sample{}, err
		}
	}
	root, err := sourceRoot()
	if err != nil {
		return Sample{}, err
	}
	tiny, err := os.ReadFile(filepath.Join(root, "wasm-samples", "tiny", "tiny.wasm"))
	if err != nil {
		return Sample{}, err
	}
	if err := pushBytes(ctx, cp.Client, "tiny", tiny); err != nil {
		return Sample{}, err
	}
	env.Progress("%d simulated nodes", numNodes)
	if _, err := Closed(ctx, 64, numNodes, func(ctx context.Context, w, i int) error {
		return addSimNode(ctx, clients[w%len(clients)], fmt.Sprintf("sim-%04d", i), fmt.Sprintf("z%d", i%3))
	}); err != nil {
		return Sample{}, err
	}
	s, err := sched.New(sched.Options{Client: cp.Client, Logger: discardLogger()})
	if err != nil {
		return Sample{}, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var bound atomic.Int64
	lat := make(chan time.Duration, numPods)
	inf, err := client.NewInformer(cp.Client, client.InformerOptions{Kind: "Pod", Namespace: "default", Logger: discardLogger()})
	if err != nil {
		return Sample{}, err
	}
	scheduled := map[string]bool{} // the informer calls its handlers one at a time
	seen := func(o *waskv1.Object) {
		p := o.GetPod()
		k := client.Key(o)
		if scheduled[k] || p.GetSpec().GetNodeName() == "" {
			return
		}
		scheduled[k] = true
		for _, cond := range p.GetStatus().GetConditions() {
			if cond.GetType() == "PodScheduled" && cond.GetStatus() == "True" && p.GetSpec().GetNodeName() != "" {
				lat <- cond.GetLastTransitionTime().AsTime().Sub(p.GetMetadata().GetCreationTimestamp().AsTime())
				bound.Add(1)
				return
			}
		}
	}
	inf.AddHandler(client.Handler{OnAdd: seen, OnUpdate: func(_, o *waskv1.Object) { seen(o) }})
	go inf.Run(runCtx)
	go s.Run(runCtx)
	if err := inf.WaitForSync(ctx); err != nil {
		return Sample{}, err
	}
	env.Progress("%d pods", numPods)
	start := time.Now()
	if _, err := Closed(ctx, 64, numPods, func(ctx context.Context, w, i int) error {
		p := &waskv1.Pod{
			Metadata: &waskv1.ObjectMeta{Name: fmt.Sprintf("p-%05d", i), Labels: map[string]string{"app": fmt.Sprintf("a%d", i%10)}},
			Spec: &waskv1.PodSpec{Module: "tiny", Mode: "http-reactor",
				Resources: &waskv1.ResourceRequirements{Requests: map[string]string{"memory": "16Mi", "cpu": "10m"}}},
		}
		_, err := client.Create(ctx, clients[w%len(clients)], p)
		return err
	}); err != nil {
		return Sample{}, err
	}
	if err := waitFor(ctx, 5*time.Minute, "every pod bound", func() bool { return bound.Load() >= int64(numPods) }); err != nil {
		return Sample{}, fmt.Errorf("%w (%d bound)", err, bound.Load())
	}
	elapsed := time.Since(start)
	out := Sample{Ops: numPods, Elapsed: elapsed}
	for range numPods {
		out.Latencies = append(out.Latencies, <-lat)
	}
	slices.Sort(out.Latencies)
	return out, nil
}

// addSimNode registers a node that runs nothing: its Node, a Ready status
// with room for 1,000 pods, and a Lease (kwok's way).
func addSimNode(ctx context.Context, c *client.Client, name, zone string) error {
	n, err := client.Create(ctx, c, &waskv1.Node{Metadata: &waskv1.ObjectMeta{Name: name, Labels: map[string]string{"topology.wask.dev/zone": zone}}})
	if err != nil {
		return err
	}
	alloc := map[string]string{"memory": "64Gi", "cpu": "64", "pods": "1000"}
	n.Status = &waskv1.NodeStatus{
		Capacity: alloc, Allocatable: alloc,
		Capabilities: &waskv1.NodeCapabilities{Modes: []string{"command", "http-cgi", "http-reactor"}, HostModules: []string{"wasi_snapshot_preview1", "wask"}},
		Conditions:   []*waskv1.Condition{{Type: "Ready", Status: "True", Reason: "Simulated"}},
	}
	if _, err := client.UpdateStatus(ctx, c, n); err != nil {
		return err
	}
	_, err = client.Create(ctx, c, &waskv1.Lease{
		Metadata: &waskv1.ObjectMeta{Name: name, Namespace: "wask-node-lease"},
		Spec:     &waskv1.LeaseSpec{HolderIdentity: name, LeaseDurationSeconds: 40},
	})
	return err
}

// pushBytes pushes a module under name.
func pushBytes(ctx context.Context, c *client.Client, name string, wasm []byte) error {
	sum := sha256.Sum256(wasm)
	stream := c.Modules.Push(ctx)
	if err := stream.Send(&waskv1.PushRequest{Msg: &waskv1.PushRequest_Header{Header: &waskv1.PushHeader{Name: name, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(wasm))}}}); err != nil {
		_, rerr := stream.CloseAndReceive()
		return errorsJoin(err, rerr)
	}
	if err := stream.Send(&waskv1.PushRequest{Msg: &waskv1.PushRequest_Chunk{Chunk: wasm}}); err != nil {
		_, rerr := stream.CloseAndReceive()
		return errorsJoin(err, rerr)
	}
	_, err := stream.CloseAndReceive()
	return err
}
