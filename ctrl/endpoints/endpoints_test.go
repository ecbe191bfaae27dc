package endpoints_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
	"github.com/wask-dev/wask/ctrl/ctrltest"
	"github.com/wask-dev/wask/ctrl/endpoints"
	"github.com/wask-dev/wask/internal/testcluster"
)

func TestEndpointsFollowReadyPods(t *testing.T) {
	cl := testcluster.Start(t, testcluster.Options{})
	var sick atomic.Value // the pod whose readiness probe fails
	sick.Store("")
	ready := func(p *waskv1.Pod) bool { return p.GetMetadata().GetName() != sick.Load() }
	h := ctrltest.Start(t, cl.Client, func(n string) *client.Client { return cl.NodeClient(t, n) }, ctrltest.Options{
		Controllers: []func(*ctrl.Env) ctrl.Runnable{func(env *ctrl.Env) ctrl.Runnable { return endpoints.New(env, endpoints.Options{}) }},
		Nodes: []ctrltest.NodeConfig{
			{Name: "n1", StopDelay: 2 * time.Second, Ready: ready},
			{Name: "n2", StopDelay: 2 * time.Second, Ready: ready},
		},
		Binder: true,
	})
	ctx := h.Ctx()
	if _, err := client.Create(ctx, h.Admin, &waskv1.Service{
		Metadata: &waskv1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec:     &waskv1.ServiceSpec{Selector: map[string]string{"app": "echo"}, Ports: []*waskv1.ServicePort{{Name: "http", Port: 8080}}},
	}); err != nil {
		t.Fatal(err)
	}
	tmpl := ctrltest.Template(map[string]string{"app": "echo"})
	for _, name := range []string{"echo-a", "echo-b", "echo-c"} {
		if _, err := client.Create(ctx, h.Admin, &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: name, Namespace: "default", Labels: tmpl.GetMetadata().GetLabels()}, Spec: tmpl.GetSpec()}); err != nil {
			t.Fatal(err)
		}
	}
	// Not selected: another app.
	if _, err := client.Create(ctx, h.Admin, &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: "other", Namespace: "default", Labels: map[string]string{"app": "other"}}, Spec: tmpl.GetSpec()}); err != nil {
		t.Fatal(err)
	}
	endpointsState := func(ctx context.Context) (*waskv1.Endpoints, string) {
		ep, err := client.Get[*waskv1.Endpoints](ctx, h.Admin, "default", "echo")
		if err != nil {
			return nil, err.Error()
		}
		s := ""
		for _, a := range ep.GetAddresses() {
			s += fmt.Sprintf("%s@%s(%s,ready=%v) ", a.GetPodName(), a.GetNodeName(), a.GetAddress(), a.GetReady())
		}
		return ep, s
	}
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		ep, s := endpointsState(ctx)
		if ep == nil || len(ep.GetAddresses()) != 3 {
			return false, s
		}
		for i, a := range ep.GetAddresses() {
			if a.GetPodName() != []string{"echo-a", "echo-b", "echo-c"}[i] || !a.GetReady() || a.GetAddress() != a.GetNodeName()+".mesh.test:7443" {
				return false, s
			}
		}
		return len(ep.GetPorts()) == 1 && ep.GetPorts()[0].GetPort() == 8080 && ctrl.ControllerOf(ep.GetMetadata()).GetKind() == "Service", s
	})

	// A pod that stops passing readiness (its node reports Ready=False)
	// stays listed, not ready.
	ep, _ := endpointsState(ctx)
	victim := ep.GetAddresses()[0].GetPodName()
	sick.Store(victim)
	p, err := client.Get[*waskv1.Pod](ctx, h.Admin, "default", victim)
	if err != nil {
		t.Fatal(err)
	}
	ctrl.SetCondition(&p.Status.Conditions, &waskv1.Condition{Type: "Ready", Status: "False", Reason: "ReadinessProbeFailed"})
	if _, err := client.UpdateStatus(ctx, h.Admin, p); err != nil {
		t.Fatal(err)
	}
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		ep, s := endpointsState(ctx)
		return len(ep.GetAddresses()) == 3 && ep.GetAddresses()[0].GetPodName() == victim && !ep.GetAddresses()[0].GetReady(), s
	})
	// Deleting a pod takes it out of the endpoints while its node still
	// lets it finish (StopDelay 2 s): it is gone from the endpoints before
	// it stops.
	gone := ep.GetAddresses()[2].GetPodName()
	if _, err := cl.Client.Objects.Delete(ctx, connect.NewRequest(&waskv1.DeleteRequest{Kind: "Pod", Namespace: "default", Name: gone})); err != nil {
		t.Fatal(err)
	}
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		ep, s := endpointsState(ctx)
		for _, a := range ep.GetAddresses() {
			if a.GetPodName() == gone {
				return false, s
			}
		}
		return true, s
	})
	p, err = client.Get[*waskv1.Pod](ctx, h.Admin, "default", gone)
	if err != nil || p.GetMetadata().GetDeletionTimestamp() == nil {
		t.Fatalf("the deleted pod should still be stopping when it leaves the endpoints: %v %v", p.GetMetadata(), err)
	}
	// Deleting the Service deletes its Endpoints.
	if _, err := cl.Client.Objects.Delete(ctx, connect.NewRequest(&waskv1.DeleteRequest{Kind: "Service", Namespace: "default", Name: "echo"})); err != nil {
		t.Fatal(err)
	}
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		_, err := client.Get[*waskv1.Endpoints](ctx, h.Admin, "default", "echo")
		return connect.CodeOf(err) == connect.CodeNotFound, fmt.Sprint(err)
	})
}
