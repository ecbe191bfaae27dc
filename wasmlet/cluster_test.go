package wasmlet_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/testcluster"
	"github.com/wask-dev/wask/wasmlet"
)

// suite is the cluster the tests share: one apiserver, the samples pushed
// once, and a shared node for the tests that need no node of their own.
type suite struct {
	c      *testcluster.Cluster
	shared *testcluster.Node

	mu      sync.Mutex
	digests map[string]string
}

// shared is the suite while TestCluster runs.
var shared *suite

// TestCluster runs the tests through a real apiserver and real wasmlets,
// in parallel, each in its own namespace.
func TestCluster(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	shared = &suite{c: c, digests: map[string]string{}}
	shared.shared = c.AddNode(t, withSharedCompileCache(testcluster.NodeOptions{Name: "shared"}))
	tests := map[string]func(*testing.T){
		"NodeRegistersAndRenewsItsLease":             testNodeRegistersAndRenewsItsLease,
		"HelloSucceedsWithLogs":                      testHelloSucceedsWithLogs,
		"DownwardEnv":                                testDownwardEnv,
		"HogIsOOMKilled":                             testHogIsOOMKilled,
		"SpinIsStoppedAtItsTimeout":                  testSpinIsStoppedAtItsTimeout,
		"FailRestartsWithGrowingBackoff":             testFailRestartsWithGrowingBackoff,
		"PodNamingAnotherNodeDoesNotRun":             testPodNamingAnotherNodeDoesNotRun,
		"DeletedPodIsStoppedAndRemoved":              testDeletedPodIsStoppedAndRemoved,
		"RestartedNodeReattachesToItsPods":           testRestartedNodeReattachesToItsPods,
		"LogsFollowUntilTheRunEnds":                  testLogsFollowUntilTheRunEnds,
		"HTTPPodServesThroughInvoke":                 testHTTPPodServesThroughInvoke,
		"ReadinessProbeGatesReady":                   testReadinessProbeGatesReady,
		"CallProbe":                                  testCallProbe,
		"FenceStopsPodsWithoutLease":                 testFenceStopsPodsWithoutLease,
		"LivenessProbeFailureRestartsTheHandler":     testLivenessProbeFailureRestartsTheHandler,
		"GracefulDeletionLetsInFlightRequestsFinish": testGracefulDeletionLetsInFlightRequestsFinish,
		"DrainStopsPodsAndMarksTheNodeNotReady":      testDrainStopsPodsAndMarksTheNodeNotReady,
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t)
		})
	}
}

// env is one test's view of the suite: its namespace and its node.
type env struct {
	t    *testing.T
	c    *testcluster.Cluster
	node *testcluster.Node
	ns   string
	s    *suite
}

var nsCleaner = regexp.MustCompile(`[^a-z0-9]+`)

// newEnv gives a test its own namespace, and its own node if opts says
// anything (else the shared node).
func newEnv(t *testing.T, opts testcluster.NodeOptions) *env {
	t.Helper()
	s := shared
	name := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
	ns := strings.Trim(nsCleaner.ReplaceAllString(strings.ToLower(name), "-"), "-")
	ns = ns[:min(len(ns), 50)]
	if _, err := client.Create(context.Background(), s.c.Client, &waskv1.Namespace{Metadata: &waskv1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
	node := s.shared
	if opts.Name != "" || opts.DataDir != "" || opts.Config != nil {
		if opts.Name == "" {
			opts.Name = ns
		}
		node = s.c.AddNode(t, withSharedCompileCache(opts))
	}
	return &env{t: t, c: s.c, node: node, ns: ns, s: s}
}

// ownNode asks newEnv for a node of the test's own.
var ownNode = testcluster.NodeOptions{Config: func(*wasmlet.Config) {}}

// module returns the digest of a sample, built and pushed on first use.
func (e *env) module(name string) string {
	e.t.Helper()
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	if d, ok := e.s.digests[name]; ok {
		return d
	}
	d := e.c.PushModule(e.t, name, sample(e.t, name))
	e.s.digests[name] = d
	return d
}

// withSharedCompileCache makes the node use the tests' compilation cache.
func withSharedCompileCache(opts testcluster.NodeOptions) testcluster.NodeOptions {
	edit := opts.Config
	opts.Config = func(c *wasmlet.Config) {
		c.CompilationCacheDir = compileCacheDir
		if edit != nil {
			edit(c)
		}
	}
	return opts
}

// createPod creates a pod bound to the env's node (no scheduler).
func (e *env) createPod(name, sampleName string, spec *waskv1.PodSpec) *waskv1.Pod {
	e.t.Helper()
	spec = proto.Clone(spec).(*waskv1.PodSpec)
	spec.Module = e.module(sampleName)
	if spec.NodeName == "" {
		spec.NodeName = e.node.Name
	}
	pod, err := client.Create(context.Background(), e.c.Client, &waskv1.Pod{
		Metadata: &waskv1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec:     spec,
	})
	if err != nil {
		e.t.Fatalf("create pod %s: %v", name, err)
	}
	return pod
}

// waitPod polls the pod until cond holds, or fails the test after 2 min
// (a guard, not a timing: compiling a Go sample for the first time takes
// tens of seconds under the race detector on a busy machine).
func (e *env) waitPod(name string, what string, cond func(*waskv1.Pod) bool) *waskv1.Pod {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var last *waskv1.Pod
	for time.Now().Before(deadline) {
		p, err := client.Get[*waskv1.Pod](context.Background(), e.c.Client, e.ns, name)
		if err == nil {
			last = p
			if cond(p) {
				return p
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("pod %s: not %s within 2m; last status: %v", name, what, last.GetStatus())
	return nil
}

// waitGone waits until the pod no longer exists.
func (e *env) waitGone(name string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_, err := client.Get[*waskv1.Pod](context.Background(), e.c.Client, e.ns, name)
		if connect.CodeOf(err) == connect.CodeNotFound {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("pod %s still exists after 30s", name)
}

// logs reads a pod's log through the apiserver (which proxies to the node).
func (e *env) logs(name string, req *waskv1.LogsRequest) (string, error) {
	if req == nil {
		req = &waskv1.LogsRequest{}
	}
	req.Name = name
	req.Namespace = e.ns
	stream, err := e.c.Client.Logs.Logs(context.Background(), connect.NewRequest(req))
	if err != nil {
		return "", err
	}
	defer stream.Close()
	var b bytes.Buffer
	for stream.Receive() {
		b.Write(stream.Msg().GetData())
	}
	return b.String(), stream.Err()
}

func phaseIs(phase string) func(*waskv1.Pod) bool {
	return func(p *waskv1.Pod) bool { return p.GetStatus().GetPhase() == phase }
}

func condStatus(p *waskv1.Pod, typ string) string {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == typ {
			return c.GetStatus()
		}
	}
	return ""
}

func testNodeRegistersAndRenewsItsLease(t *testing.T) {
	e := newEnv(t, testcluster.NodeOptions{Config: func(c *wasmlet.Config) {
		c.LeaseRenewInterval = 20 * time.Millisecond
		c.Labels = map[string]string{"zone": "a"}
		c.Capacity = wasmlet.Capacity{Memory: 1 << 30, CPUMilli: 1500, Pods: 50}
	}})
	ctx := context.Background()
	node, err := client.Get[*waskv1.Node](ctx, e.c.Client, "", e.node.Name)
	if err != nil {
		t.Fatal(err)
	}
	st := node.GetStatus()
	if got := st.GetCapacity(); got["memory"] != "1073741824" || got["cpu"] != "1500m" || got["pods"] != "50" {
		t.Errorf("capacity = %v", got)
	}
	if !strings.Contains(strings.Join(st.GetCapabilities().GetHostModules(), ","), "wasi_snapshot_preview1") {
		t.Errorf("host modules = %v, want wasi_snapshot_preview1 among them", st.GetCapabilities().GetHostModules())
	}
	if got := strings.Join(st.GetCapabilities().GetModes(), ","); !strings.Contains(got, "command") {
		t.Errorf("modes = %s", got)
	}
	var api string
	for _, a := range st.GetAddresses() {
		if a.GetType() == "API" {
			api = a.GetAddress()
		}
	}
	if api == "" {
		t.Errorf("no API address in %v", st.GetAddresses())
	}
	if c := st.GetConditions(); len(c) != 1 || c[0].GetType() != "Ready" || c[0].GetStatus() != "True" {
		t.Errorf("conditions = %v, want Ready=True", c)
	}
	if node.GetMetadata().GetLabels()["zone"] != "a" || node.GetMetadata().GetAnnotations()[wasmlet.APICertAnnotation] == "" {
		t.Errorf("metadata = %v", node.GetMetadata())
	}
	l1, err := client.Get[*waskv1.Lease](ctx, e.c.Client, wasmlet.LeaseNamespace, e.node.Name)
	if err != nil {
		t.Fatal(err)
	}
	if l1.GetSpec().GetHolderIdentity() != e.node.Name || l1.GetSpec().GetLeaseDurationSeconds() < 1 {
		t.Errorf("lease = %v", l1.GetSpec())
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		l2, err := client.Get[*waskv1.Lease](ctx, e.c.Client, wasmlet.LeaseNamespace, e.node.Name)
		if err == nil && l2.GetSpec().GetRenewTime().AsTime().After(l1.GetSpec().GetRenewTime().AsTime()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lease not renewed within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Another node's credential may not write this node's lease.
	other := e.c.NodeClient(t, "n2")
	l1.Spec.HolderIdentity = "n2"
	l1.Metadata.Revision = ""
	if _, err := client.Update(ctx, other, l1); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("n2 writing n1's lease: %v, want PermissionDenied", err)
	}
}

func testHelloSucceedsWithLogs(t *testing.T) {
	e := newEnv(t, testcluster.NodeOptions{})
	e.createPod("hello", "hello", &waskv1.PodSpec{Mode: "command", RestartPolicy: "Never", Args: []string{"world"}})
	p := e.waitPod("hello", "Succeeded", phaseIs("Succeeded"))
	st := p.GetStatus()
	lt := st.GetLastTermination()
	if lt.GetReason() != "Completed" || lt.GetExitCode() != 0 || st.GetStartTime() == nil || st.GetRestartCount() != 0 {
		t.Errorf("status = %v", st)
	}
	if st.GetModuleDigest() != e.module("hello") || st.GetHostIp() == "" {
		t.Errorf("moduleDigest %q hostIP %q", st.GetModuleDigest(), st.GetHostIp())
	}
	for typ, want := range map[string]string{"PodScheduled": "True", "Initialized": "True", "Ready": "False"} {
		if got := condStatus(p, typ); got != want {
			t.Errorf("condition %s = %q, want %q", typ, got, want)
		}
	}
	logs, err := e.logs("hello", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs, "world") {
		t.Errorf("logs = %q, want the greeting of world", logs)
	}
	if _, err := e.logs("hello", &waskv1.LogsRequest{Previous: true}); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("previous logs of a pod that never restarted: %v, want FailedPrecondition", err)
	}
	if _, err := e.logs("nope", nil); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("logs of a missing pod: %v, want NotFound", err)
	}
}

func testDownwardEnv(t *testing.T) {
	e := newEnv(t, testcluster.NodeOptions{})
	e.createPod("env", "hello", &waskv1.PodSpec{Mode: "command", RestartPolicy: "Never"})
	e.waitPod("env", "Succeeded", phaseIs("Succeeded"))
	logs, err := e.logs("env", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "hello, world, from env\n"; logs != want {
		t.Errorf("logs = %q, want %q (hello greets from WASK_POD_NAME)", logs, want)
	}
}

func testHogIsOOMKilled(t *testing.T) {
	e := newEnv(t, testcluster.NodeOptions{})
	e.createPod("hog", "hog", &waskv1.PodSpec{Mode: "command", RestartPolicy: "Never",
		Resources: &waskv1.ResourceRequirements{Limits: map[string]string{"memory": "32Mi"}}})
	p := e.waitPod("hog", "Failed", phaseIs("Failed"))
	if lt := p.GetStatus().GetLastTermination(); lt.GetReason() != "OOMKilled" {
		t.Errorf("last termination = %v, want OOMKilled", lt)
	}
}

func testSpinIsStoppedAtItsTimeout(t *testing.T) {
	e := newEnv(t, testcluster.NodeOptions{})
	e.createPod("spin", "spin", &waskv1.PodSpec{Mode: "command", RestartPolicy: "Never",
		Resources: &waskv1.ResourceRequirements{Limits: map[string]string{"timeout": "200ms"}}})
	p := e.waitPod("spin", "Failed", phaseIs("Failed"))
	lt := p.GetStatus().GetLastTermination()
	if lt.GetReason() != "DeadlineExceeded" {
		t.Errorf("last termination = %v, want DeadlineExceeded", lt)
	}
	if ran := lt.GetFinishedAt().AsTime().Sub(lt.GetStartedAt().AsTime()); ran < 200*time.Millisecond {
		t.Errorf("ran %s, less than its 200ms timeout", ran)
	}
}

func testFailRestartsWithGrowingBackoff(t *testing.T) {
	const base = 20 * time.Millisecond
	e := newEnv(t, testcluster.NodeOptions{Config: func(c *wasmlet.Config) {
		c.RestartBackoff, c.MaxRestartBackoff = base, 10*time.Second
	}})
	e.createPod("fail", "fail", &waskv1.PodSpec{Mode: "command", RestartPolicy: "OnFailure"})
	// Follow the pod's terminations: each restart records the run before it.
	runs := map[int32]*waskv1.TerminationState{}
	e.waitPod("fail", "restarted 4 times", func(p *waskv1.Pod) bool {
		st := p.GetStatus()
		if st.GetLastTermination() != nil {
			runs[st.GetRestartCount()] = st.GetLastTermination()
		}
		return st.GetRestartCount() >= 4
	})
	p := e.waitPod("fail", "in back-off", func(p *waskv1.Pod) bool { return p.GetStatus().GetReason() == "CrashLoopBackOff" })
	if lt := p.GetStatus().GetLastTermination(); lt.GetReason() != "Error" || lt.GetExitCode() == 0 {
		t.Errorf("last termination = %v, want Error with a non-zero code", lt)
	}
	if condStatus(p, "Ready") != "False" {
		t.Errorf("a crash-looping pod is Ready")
	}
	// Restart n (after run n) waited at least base << (n-1) after run n ended.
	for n := int32(1); n < 4; n++ {
		prev, next := runs[n], runs[n+1]
		if prev == nil || next == nil {
			continue // this poll missed one; the others still show the growth
		}
		gap := next.GetStartedAt().AsTime().Sub(prev.GetFinishedAt().AsTime())
		if want := base << (n - 1); gap < want {
			t.Errorf("restart %d came %s after the run before ended, want at least %s", n+1, gap, want)
		}
	}
	if _, err := e.logs("fail", &waskv1.LogsRequest{Previous: true}); err != nil {
		t.Errorf("previous logs of a restarted pod: %v", err)
	}
}

func testPodNamingAnotherNodeDoesNotRun(t *testing.T) {
	e := newEnv(t, testcluster.NodeOptions{})
	e.createPod("elsewhere", "hello", &waskv1.PodSpec{Mode: "command", RestartPolicy: "Never", NodeName: "n9"})
	e.createPod("here", "hello", &waskv1.PodSpec{Mode: "command", RestartPolicy: "Never"})
	e.waitPod("here", "Succeeded", phaseIs("Succeeded"))
	p, err := client.Get[*waskv1.Pod](context.Background(), e.c.Client, e.ns, "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	if p.GetStatus().GetPhase() != "Pending" {
		t.Errorf("a pod bound to n9 got status %v from n1", p.GetStatus())
	}
}

func testDeletedPodIsStoppedAndRemoved(t *testing.T) {
	e := newEnv(t, ownNode)
	e.createPod("spin", "spin", &waskv1.PodSpec{Mode: "command", TerminationGracePeriod: "5s"})
	e.waitPod("spin", "Running", phaseIs("Running"))
	if s := e.node.Stats(); s.Active != 1 || s.CompiledModules != 1 {
		t.Fatalf("stats with one running pod = %+v", s)
	}
	if _, err := client.Delete[*waskv1.Pod](context.Background(), e.c.Client, e.ns, "spin", nil); err != nil {
		t.Fatal(err)
	}
	e.waitGone("spin")
	deadline := time.Now().Add(10 * time.Second)
	for e.node.Stats().Pods != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("node still holds the deleted pod: %+v", e.node.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The compiled module stays only in the cache (no pod holds it).
	if s := e.node.Stats(); s.CompiledModules > s.CachedModules {
		t.Errorf("a compiled module is held by no pod and no cache: %+v", s)
	}
}

func testRestartedNodeReattachesToItsPods(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, testcluster.NodeOptions{DataDir: dir})
	ctx := context.Background()
	e.createPod("hello", "hello", &waskv1.PodSpec{Mode: "command", RestartPolicy: "Never"})
	e.createPod("spin", "spin", &waskv1.PodSpec{Mode: "command", RestartPolicy: "Always"})
	hello := e.waitPod("hello", "Succeeded", phaseIs("Succeeded"))
	e.waitPod("spin", "Running", phaseIs("Running"))
	nodeBefore, err := client.Get[*waskv1.Node](ctx, e.c.Client, "", e.node.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.node.Stop(); err != nil {
		t.Fatal(err)
	}

	e.node = e.c.AddNode(t, withSharedCompileCache(testcluster.NodeOptions{Name: e.node.Name, DataDir: dir}))
	spin := e.waitPod("spin", "running again", func(p *waskv1.Pod) bool {
		return p.GetStatus().GetPhase() == "Running" && p.GetStatus().GetRestartCount() == 1 && condStatus(p, "Ready") == "True"
	})
	if lt := spin.GetStatus().GetLastTermination(); lt.GetReason() != "Killed" {
		t.Errorf("spin's last termination = %v, want Killed (by the node's restart)", lt)
	}
	if s := e.node.Stats(); s.Pods != 2 || s.Active != 1 {
		t.Errorf("restarted node holds %+v, want 2 pods with 1 active", s)
	}
	hello2, err := client.Get[*waskv1.Pod](ctx, e.c.Client, e.ns, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(hello.GetStatus(), hello2.GetStatus()) {
		t.Errorf("the finished pod's status changed on reattach:\nbefore %v\nafter  %v", hello.GetStatus(), hello2.GetStatus())
	}
	nodeAfter, err := client.Get[*waskv1.Node](ctx, e.c.Client, "", e.node.Name)
	if err != nil {
		t.Fatal(err)
	}
	if nodeAfter.GetMetadata().GetUid() != nodeBefore.GetMetadata().GetUid() {
		t.Errorf("the node was recreated instead of taken over")
	}
	pods, _, err := client.List[*waskv1.Pod](ctx, e.c.Client, client.ListOptions{Namespace: e.ns})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 2 {
		t.Errorf("%d pods after the restart, want 2", len(pods))
	}
}

func testLogsFollowUntilTheRunEnds(t *testing.T) {
	e := newEnv(t, testcluster.NodeOptions{})
	e.createPod("spin", "spin", &waskv1.PodSpec{Mode: "command", RestartPolicy: "Never",
		Resources: &waskv1.ResourceRequirements{Limits: map[string]string{"timeout": "1s"}}})
	e.waitPod("spin", "Running", phaseIs("Running"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream, err := e.c.Client.Logs.Logs(ctx, connect.NewRequest(&waskv1.LogsRequest{Namespace: e.ns, Name: "spin", Follow: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var got strings.Builder
	for stream.Receive() {
		got.WriteString(string(stream.Msg().GetData()))
	}
	// The stream ended by itself: the run ended at its timeout.
	if err := stream.Err(); err != nil {
		t.Fatalf("follow: %v", err)
	}
	if got.String() != "spin: spinning\n" {
		t.Errorf("followed %q", got.String())
	}
	if p := e.waitPod("spin", "Failed", phaseIs("Failed")); p.GetStatus().GetLastTermination().GetReason() != "DeadlineExceeded" {
		t.Errorf("status %v", p.GetStatus())
	}
}

// TestDeletedPodsLeaveNoGoroutines runs alone (after TestCluster's
// parallel subtests): once its pods are deleted, the node has exactly the
// goroutines it had before they existed.
func TestDeletedPodsLeaveNoGoroutines(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	node := c.AddNode(t, withSharedCompileCache(testcluster.NodeOptions{Name: "n1"}))
	e := &env{t: t, c: c, node: node, ns: "default", s: &suite{c: c, digests: map[string]string{}}}
	e.module("echo")
	e.module("spin")
	before := goleak.IgnoreCurrent()

	e.createPod("web", "echo", &waskv1.PodSpec{Mode: "http-reactor", TerminationGracePeriod: "1s"})
	e.createPod("spin", "spin", &waskv1.PodSpec{Mode: "command"})
	e.waitPod("web", "Ready", func(p *waskv1.Pod) bool { return condStatus(p, "Ready") == "True" })
	e.waitPod("spin", "Running", phaseIs("Running"))
	rec := httptest.NewRecorder()
	node.Invoke(context.Background(), "default", "web", rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 200 || node.Stats().Instances != 1 {
		t.Fatalf("invoke: %d, stats %+v", rec.Code, node.Stats())
	}
	for _, name := range []string{"web", "spin"} {
		if _, err := client.Delete[*waskv1.Pod](context.Background(), c.Client, "default", name, nil); err != nil {
			t.Fatal(err)
		}
		e.waitGone(name)
	}
	deadline := time.Now().Add(time.Minute)
	for node.Stats() != (wasmlet.Stats{CompiledModules: node.Stats().CompiledModules, CachedModules: node.Stats().CachedModules}) {
		if time.Now().After(deadline) {
			t.Fatalf("the node still holds %+v", node.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s := node.Stats(); s.CompiledModules != s.CachedModules {
		t.Errorf("compiled modules held by no pod and no cache: %+v", s)
	}
	goleak.VerifyNone(t, before)
}
