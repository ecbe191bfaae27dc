package wasmlet_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/testcluster"
	"github.com/wask-dev/wask/wasmlet"
)

// invoke sends one request to a pod through the node, in-process.
func (e *env) invoke(name, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	e.node.Invoke(context.Background(), e.ns, name, rec, req)
	return rec
}

func httpSpec(mode string) *waskv1.PodSpec {
	return &waskv1.PodSpec{Mode: mode}
}

func testHTTPPodServesThroughInvoke(t *testing.T) {
	e := newEnv(t, testcluster.NodeOptions{})
	for _, tt := range []struct{ pod, sample, mode, want string }{
		{"cgi", "cgi-echo", "http-cgi", "path: /hello\n"},
		{"reactor", "echo", "http-reactor", "path: /hello\n"},
		{"tiny", "tiny", "http-reactor", "hello from tiny\n"},
	} {
		e.createPod(tt.pod, tt.sample, httpSpec(tt.mode))
		p := e.waitPod(tt.pod, "Ready", func(p *waskv1.Pod) bool { return condStatus(p, "Ready") == "True" })
		if p.GetStatus().GetPhase() != "Running" {
			t.Errorf("%s: phase = %s", tt.pod, p.GetStatus().GetPhase())
		}
		rec := e.invoke(tt.pod, "/hello")
		body := rec.Body.String()
		if rec.Code != 200 || !strings.Contains(body, tt.want) {
			t.Errorf("%s: invoke: %d %q", tt.pod, rec.Code, body)
		}
		if tt.sample != "tiny" && !strings.Contains(body, "pod: "+tt.pod+"\nnode: "+e.node.Name+"\n") {
			t.Errorf("%s: the guest does not know its pod and node: %q", tt.pod, body)
		}
	}
	if rec := e.invoke("nope", "/"); rec.Code != 404 || rec.Header().Get(wasmlet.InvokeErrorHeader) == "" {
		t.Errorf("invoke of a pod not on the node: %d", rec.Code)
	}
	e.createPod("cmd", "hello", &waskv1.PodSpec{Mode: "command", RestartPolicy: "Never"})
	e.waitPod("cmd", "Succeeded", phaseIs("Succeeded"))
	if rec := e.invoke("cmd", "/"); rec.Code != 503 {
		t.Errorf("invoke of a command pod: %d, want 503", rec.Code)
	}
}

func probe(path string) *waskv1.Probe {
	return &waskv1.Probe{HttpGet: &waskv1.HTTPGetAction{Path: path}, Period: "50ms", FailureThreshold: 1}
}

func testReadinessProbeGatesReady(t *testing.T) {
	e := newEnv(t, testcluster.NodeOptions{})
	spec := httpSpec("http-reactor")
	spec.ReadinessProbe = probe("/healthz")
	e.createPod("good", "echo", spec)
	// fail in CGI style: every request's instance exits 3 without answering.
	spec = httpSpec("http-cgi")
	spec.ReadinessProbe = probe("/healthz")
	e.createPod("bad", "fail", spec)
	e.waitPod("good", "Ready", func(p *waskv1.Pod) bool { return condStatus(p, "Ready") == "True" })
	bad := e.waitPod("bad", "probed and failing", func(p *waskv1.Pod) bool {
		for _, c := range p.GetStatus().GetConditions() {
			if c.GetType() == "Ready" && c.GetReason() == "ReadinessProbeFailed" {
				return true
			}
		}
		return false
	})
	if condStatus(bad, "Ready") != "False" || bad.GetStatus().GetPhase() != "Running" {
		t.Errorf("a pod failing its readiness probe: %v", bad.GetStatus())
	}
}

// testCallProbe checks probes that call an export (the reactor ABI's
// wask_health) instead of making a request.
func testCallProbe(t *testing.T) {
	e := newEnv(t, testcluster.NodeOptions{})
	callProbe := func(export string) *waskv1.Probe {
		return &waskv1.Probe{Call: &waskv1.CallAction{Export: export}, Period: "50ms", FailureThreshold: 1}
	}
	spec := httpSpec("http-reactor")
	spec.ReadinessProbe = callProbe("wask_health") // tiny's returns 0
	e.createPod("healthy", "tiny", spec)
	spec = httpSpec("http-reactor")
	spec.ReadinessProbe = callProbe("no_such_export")
	e.createPod("missing", "tiny", spec)
	e.waitPod("healthy", "Ready", func(p *waskv1.Pod) bool { return condStatus(p, "Ready") == "True" })
	e.waitPod("missing", "probed and failing", func(p *waskv1.Pod) bool {
		for _, c := range p.GetStatus().GetConditions() {
			if c.GetType() == "Ready" && c.GetStatus() == "False" && c.GetReason() == "ReadinessProbeFailed" {
				return true
			}
		}
		return false
	})
}

func testLivenessProbeFailureRestartsTheHandler(t *testing.T) {
	e := newEnv(t, testcluster.NodeOptions{})
	spec := httpSpec("http-cgi")
	spec.LivenessProbe = &waskv1.Probe{HttpGet: &waskv1.HTTPGetAction{Path: "/healthz"}, Period: "20ms", FailureThreshold: 2}
	e.createPod("sick", "fail", spec)
	p := e.waitPod("sick", "restarted", func(p *waskv1.Pod) bool { return p.GetStatus().GetRestartCount() >= 2 })
	if lt := p.GetStatus().GetLastTermination(); lt.GetReason() != "LivenessProbeFailed" {
		t.Errorf("last termination = %v", lt)
	}
	if _, err := e.logs("sick", &waskv1.LogsRequest{Previous: true}); err != nil {
		t.Errorf("logs of the handler before the restart: %v", err)
	}
}

func testGracefulDeletionLetsInFlightRequestsFinish(t *testing.T) {
	e := newEnv(t, ownNode)
	// spin in CGI style never answers: its request ends at its 1.5s
	// timeout (504) if deletion lets it finish, earlier if it cancels it.
	spec := httpSpec("http-cgi")
	spec.TerminationGracePeriod = "30s"
	spec.Resources = &waskv1.ResourceRequirements{Limits: map[string]string{"timeout": "1500ms"}}
	e.createPod("slow", "spin", spec)
	e.waitPod("slow", "Ready", func(p *waskv1.Pod) bool { return condStatus(p, "Ready") == "True" })

	var wg sync.WaitGroup
	var inflight *httptest.ResponseRecorder
	wg.Go(func() { inflight = e.invoke("slow", "/") })
	deadline := time.Now().Add(10 * time.Second)
	for e.node.Stats().InFlight == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the pod")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := client.Delete[*waskv1.Pod](context.Background(), e.c.Client, e.ns, "slow", nil); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if inflight.Code != http.StatusGatewayTimeout {
		t.Errorf("in-flight request during deletion: %d %q, want 504 (its own timeout, not a cancel)", inflight.Code, inflight.Body.String())
	}
	e.waitGone("slow")
	if rec := e.invoke("slow", "/"); rec.Code != 404 {
		t.Errorf("a deleted pod still answers: %d", rec.Code)
	}
	if s := e.node.Stats(); s.Pods != 0 {
		t.Errorf("the node still holds %+v", s)
	}
}

func testDrainStopsPodsAndMarksTheNodeNotReady(t *testing.T) {
	e := newEnv(t, ownNode)
	e.createPod("web", "echo", httpSpec("http-reactor"))
	e.waitPod("web", "Ready", func(p *waskv1.Pod) bool { return condStatus(p, "Ready") == "True" })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.node.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if s := e.node.Stats(); s.Active != 0 {
		t.Errorf("after Drain: %+v", s)
	}
	node, err := client.Get[*waskv1.Node](ctx, e.c.Client, "", e.node.Name)
	if err != nil {
		t.Fatal(err)
	}
	if c := node.GetStatus().GetConditions(); len(c) != 1 || c[0].GetStatus() != "False" || c[0].GetReason() != "NodeShutdown" {
		t.Errorf("node conditions after Drain: %v", c)
	}
	e.waitPod("web", "not Ready", func(p *waskv1.Pod) bool { return condStatus(p, "Ready") == "False" })
	if rec := e.invoke("web", "/"); rec.Code != 503 {
		t.Errorf("a drained pod answers %d, want 503", rec.Code)
	}
}
