package meshproxy

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

func service(ns, name string, mod func(*waskv1.ServiceSpec)) *waskv1.Service {
	s := &waskv1.Service{Metadata: &waskv1.ObjectMeta{Namespace: ns, Name: name}, Spec: &waskv1.ServiceSpec{}}
	if mod != nil {
		mod(s.Spec)
	}
	return s
}

// addr is "pod@node[:address]"-free shorthand: pod, node, address, ready.
type addr struct {
	pod, node, address string
	ready              bool
}

func endpoints(ns, name string, addrs ...addr) *waskv1.Endpoints {
	e := &waskv1.Endpoints{Metadata: &waskv1.ObjectMeta{Namespace: ns, Name: name}}
	for _, a := range addrs {
		e.Addresses = append(e.Addresses, &waskv1.EndpointAddress{
			PodName: a.pod, PodUid: "uid-" + a.pod, NodeName: a.node, Address: a.address, Ready: a.ready,
		})
	}
	return e
}

var tableOpts = cmp.Options{cmpopts.IgnoreUnexported(Route{}, Endpoint{}), cmpopts.EquateEmpty()}

func TestBuild(t *testing.T) {
	services := []*waskv1.Service{
		service("default", "echo", nil),
		service("default", "rr", func(s *waskv1.ServiceSpec) { s.LoadBalancing = "RoundRobin"; s.SessionAffinity = "ClientIP" }),
		service("shop", "web", func(s *waskv1.ServiceSpec) { s.PathPrefix = "/web" }),
		service("zzz", "web2", func(s *waskv1.ServiceSpec) { s.PathPrefix = "/web" }),
	}
	eps := []*waskv1.Endpoints{
		endpoints("default", "echo",
			addr{"echo-b", "n2", "10.0.0.2:7443", true},
			addr{"echo-a", "n1", "", true},
			addr{"echo-c", "n2", "10.0.0.2:7443", false},
			addr{"echo-d", "n3", "", true}, // remote without an address: not routable
		),
		endpoints("default", "orphan", addr{"x", "n1", "", true}),
	}
	tab := Build(services, eps, TableOptions{LocalNode: "n1"})
	want := []*Route{
		{Namespace: "default", Name: "echo", Endpoints: []*Endpoint{
			{Namespace: "default", Pod: "echo-a", UID: "uid-echo-a", Node: "n1", Local: true},
			{Namespace: "default", Pod: "echo-b", UID: "uid-echo-b", Node: "n2", Address: "10.0.0.2:7443"},
		}, NotReady: 2},
		{Namespace: "default", Name: "rr", Policy: RoundRobin, ClientIPAffinity: true},
		{Namespace: "shop", Name: "web", PathPrefix: "/web"},
		{Namespace: "zzz", Name: "web2", PathPrefix: "/web"},
	}
	if diff := cmp.Diff(want, tab.Routes(), tableOpts); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/web: shop/web wins over zzz/web2"}, tab.Conflicts); diff != "" {
		t.Errorf("conflicts (-want +got):\n%s", diff)
	}
	// Pure: the same inputs make the same table.
	if diff := cmp.Diff(tab.Routes(), Build(services, eps, TableOptions{LocalNode: "n1"}).Routes(), tableOpts); diff != "" {
		t.Errorf("Build is not deterministic:\n%s", diff)
	}
}

func TestLookup(t *testing.T) {
	tab := Build([]*waskv1.Service{
		service("default", "echo", nil),
		service("shop", "web", func(s *waskv1.ServiceSpec) { s.PathPrefix = "/web" }),
		service("shop", "api", func(s *waskv1.ServiceSpec) { s.PathPrefix = "/web/api/" }),
		service("shop", "cart", nil),
	}, nil, TableOptions{ClusterDomain: "cluster.test"})
	tests := []struct {
		host, path      string
		wantNS, wantSvc string
		wantStrip       string
	}{
		{"echo.default", "/x", "default", "echo", ""},
		{"ECHO.Default:8080", "/", "default", "echo", ""},
		{"echo.default.cluster.test", "/", "default", "echo", ""},
		{"echo.default.cluster.test.", "/", "default", "echo", ""},
		{"echo.default.other.test", "/", "", "", ""},
		{"echo.nowhere", "/", "", "", ""},
		{"example.com", "/web", "shop", "web", ""},
		{"example.com", "/web/x", "shop", "web", ""},
		{"example.com", "/website", "", "", ""},
		{"example.com", "/web/api/v1", "shop", "api", ""},
		{"example.com", "/web/api", "shop", "web", ""},
		{"example.com", "/shop/cart", "shop", "cart", "/shop/cart"},
		{"example.com", "/shop/cart/items?x", "shop", "cart", "/shop/cart"},
		{"example.com", "/shop/cartx/items", "", "", ""},
		{"example.com", "/shop", "", "", ""},
		{"example.com", "", "", "", ""},
		{"cart.shop", "/web", "shop", "cart", ""}, // host wins over path
	}
	for _, tt := range tests {
		t.Run(tt.host+tt.path, func(t *testing.T) {
			r, strip := tab.Lookup(tt.host, tt.path)
			var ns, svc string
			if r != nil {
				ns, svc = r.Namespace, r.Name
			}
			if ns != tt.wantNS || svc != tt.wantSvc || strip != tt.wantStrip {
				t.Errorf("Lookup(%q, %q) = %s/%s strip %q; want %s/%s strip %q", tt.host, tt.path, ns, svc, strip, tt.wantNS, tt.wantSvc, tt.wantStrip)
			}
		})
	}
}

func routeWith(n int, policy Policy) *Route {
	r := &Route{Namespace: "ns", Name: "svc", Policy: policy}
	for i := range n {
		r.Endpoints = append(r.Endpoints, &Endpoint{Namespace: "ns", Pod: fmt.Sprintf("p%d", i), Node: fmt.Sprintf("n%d", i%3), Address: fmt.Sprintf("10.0.0.%d:1", i%3)})
	}
	(&loads{}).attach(&Table{byName: map[string]*Route{"ns/svc": r}})
	return r
}

func TestPickRoundRobin(t *testing.T) {
	r := routeWith(3, RoundRobin)
	var got []string
	for range 6 {
		got = append(got, r.Pick("", nil, nil, rand.IntN).Pod)
	}
	if diff := cmp.Diff([]string{"p0", "p1", "p2", "p0", "p1", "p2"}, got); diff != "" {
		t.Errorf("round robin (-want +got):\n%s", diff)
	}
}

func TestPickLeastRequest(t *testing.T) {
	r := routeWith(2, LeastRequest)
	r.Endpoints[0].load.inflight.Store(5)
	for range 20 { // with two endpoints both are always the two choices
		if e := r.Pick("", nil, nil, rand.IntN); e.Pod != "p1" {
			t.Fatalf("picked %s with 5 in flight over p1 with 0", e.Pod)
		}
	}
}

func TestPickSkipsDownAndTried(t *testing.T) {
	r := routeWith(6, LeastRequest) // nodes n0, n1, n2 twice each
	down := func(a string) bool { return a == "10.0.0.1:1" }
	tried := []*Endpoint{r.Endpoints[0]}
	seen := map[string]bool{}
	for range 200 {
		e := r.Pick("", tried, down, rand.IntN)
		if e.Node == "n1" || e == r.Endpoints[0] {
			t.Fatalf("picked %s on %s (down or tried)", e.Pod, e.Node)
		}
		seen[e.Pod] = true
	}
	if len(seen) != 3 {
		t.Errorf("picked %v; want each of p2, p3, p5", seen)
	}
	all := func(string) bool { return true }
	if e := r.Pick("", nil, all, rand.IntN); e != nil {
		t.Errorf("picked %s with every node down", e.Pod)
	}
	r.Endpoints[1].Local = true // a local endpoint is never down
	if e := r.Pick("", nil, all, rand.IntN); e != r.Endpoints[1] {
		t.Errorf("picked %v; want the local endpoint", e)
	}
}

func TestPickAffinity(t *testing.T) {
	r := routeWith(5, LeastRequest)
	r.ClientIPAffinity = true
	first := r.Pick("192.0.2.7", nil, nil, rand.IntN)
	for range 10 {
		if e := r.Pick("192.0.2.7", nil, nil, rand.IntN); e != first {
			t.Fatalf("client moved from %s to %s", first.Pod, e.Pod)
		}
	}
	// Only the clients of a removed endpoint move.
	other := r.Pick("192.0.2.8", []*Endpoint{first}, nil, rand.IntN)
	if other == first {
		t.Fatal("picked a tried endpoint")
	}
}

// TestPickProperty checks, over random tables and load, that Pick returns
// an eligible endpoint whenever one exists, and that least-request never
// picks the busiest of two endpoints with different load.
func TestPickProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 2000 {
		n := rng.IntN(8)
		r := routeWith(n, Policy(rng.IntN(2)))
		downNodes := map[string]bool{}
		for _, a := range []string{"10.0.0.0:1", "10.0.0.1:1", "10.0.0.2:1"} {
			downNodes[a] = rng.IntN(3) == 0
		}
		var tried []*Endpoint
		for _, e := range r.Endpoints {
			e.load.inflight.Store(int64(rng.IntN(4)))
			if rng.IntN(4) == 0 {
				tried = append(tried, e)
			}
		}
		eligible := 0
		for _, e := range r.Endpoints {
			if !downNodes[e.Address] && !containsEndpoint(tried, e) {
				eligible++
			}
		}
		e := r.Pick("", tried, func(a string) bool { return downNodes[a] }, rng.IntN)
		switch {
		case eligible == 0 && e != nil:
			t.Fatalf("iter %d: picked %s with none eligible", iter, e.Pod)
		case eligible > 0 && e == nil:
			t.Fatalf("iter %d: picked nothing with %d eligible", iter, eligible)
		case e != nil && (downNodes[e.Address] || containsEndpoint(tried, e)):
			t.Fatalf("iter %d: picked ineligible %s", iter, e.Pod)
		}
		if eligible == 2 && r.Policy == LeastRequest {
			var pair []*Endpoint
			for _, c := range r.Endpoints {
				if !downNodes[c.Address] && !containsEndpoint(tried, c) {
					pair = append(pair, c)
				}
			}
			lo := pair[0]
			if pair[1].inflight() < lo.inflight() {
				lo = pair[1]
			}
			if e.inflight() > lo.inflight() {
				t.Fatalf("iter %d: picked %s (%d in flight) over %s (%d)", iter, e.Pod, e.inflight(), lo.Pod, lo.inflight())
			}
		}
	}
}

func TestLoadsSurviveRebuild(t *testing.T) {
	svc := []*waskv1.Service{service("ns", "svc", nil)}
	l := &loads{}
	t1 := Build(svc, []*waskv1.Endpoints{endpoints("ns", "svc", addr{"a", "n1", "", true}, addr{"b", "n1", "", true})}, TableOptions{LocalNode: "n1"})
	l.attach(t1)
	t1.Service("ns", "svc").Endpoints[0].begin()
	t2 := Build(svc, []*waskv1.Endpoints{endpoints("ns", "svc", addr{"a", "n1", "", true})}, TableOptions{LocalNode: "n1"})
	l.attach(t2)
	if got := t2.Service("ns", "svc").Endpoints[0].inflight(); got != 1 {
		t.Errorf("in flight after rebuild = %d, want 1", got)
	}
	if len(l.m) != 1 {
		t.Errorf("counters kept = %d, want 1 (b was removed)", len(l.m))
	}
}
