package endpoints_test

import (
	"context"
	"slices"
	"testing"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
	"github.com/wask-dev/wask/ctrl/ctrltest"
	"github.com/wask-dev/wask/ctrl/endpoints"
	"github.com/wask-dev/wask/internal/testcluster"
)

// BenchmarkReadinessToEndpoints measures the time from a pod's readiness
// change (its UpdateStatus returning) to the Endpoints of its Service
// showing it, seen by a watcher, as a mesh proxy would, with 100 pods
// behind the Service.
func BenchmarkReadinessToEndpoints(b *testing.B) {
	cl := testcluster.Start(b, testcluster.Options{})
	h := ctrltest.Start(b, cl.Client, func(n string) *client.Client { return cl.NodeClient(b, n) }, ctrltest.Options{
		Controllers: []func(*ctrl.Env) ctrl.Runnable{func(env *ctrl.Env) ctrl.Runnable { return endpoints.New(env, endpoints.Options{}) }},
	})
	ctx := h.Ctx()
	if _, err := client.Create(ctx, h.Admin, &waskv1.Service{
		Metadata: &waskv1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec:     &waskv1.ServiceSpec{Selector: map[string]string{"app": "echo"}},
	}); err != nil {
		b.Fatal(err)
	}
	tmpl := ctrltest.Template(map[string]string{"app": "echo"})
	tmpl.Spec.NodeName = "n1"
	var pods []*waskv1.Pod
	for i := range 100 {
		p, err := client.Create(ctx, h.Admin, &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: "echo-" + string(rune('a'+i/26)) + string(rune('a'+i%26)), Namespace: "default", Labels: tmpl.GetMetadata().GetLabels()}, Spec: tmpl.GetSpec()})
		if err != nil {
			b.Fatal(err)
		}
		pods = append(pods, p)
	}
	seen := make(chan *waskv1.Endpoints, 1000)
	inf, _ := client.NewInformer(h.Admin, client.InformerOptions{Kind: "Endpoints", Namespace: "default"})
	inf.AddHandler(client.Handler{OnAdd: func(o *waskv1.Object) { seen <- o.GetEndpoints() }, OnUpdate: func(_, o *waskv1.Object) { seen <- o.GetEndpoints() }})
	ictx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = inf.Run(ictx) }()
	b.Cleanup(func() { cancel(); <-done })
	readyOf := func(ep *waskv1.Endpoints, name string) (bool, bool) {
		for _, a := range ep.GetAddresses() {
			if a.GetPodName() == name {
				return a.GetReady(), true
			}
		}
		return false, false
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		p := pods[i%len(pods)]
		want := !ctrl.PodReady(p)
		status := map[bool]string{true: "True", false: "False"}[want]
		ctrl.SetCondition(&p.Status.Conditions, &waskv1.Condition{Type: "Ready", Status: status})
		got, err := client.UpdateStatus(ctx, h.Admin, p)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		pods[i%len(pods)] = got
		for {
			ep := <-seen
			if r, ok := readyOf(ep, p.GetMetadata().GetName()); ok && r == want {
				break
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms-p99")
}
