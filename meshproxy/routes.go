package meshproxy

import (
	"cmp"
	"net"
	"slices"
	"strings"
	"sync/atomic"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// DefaultClusterDomain is the domain a Service's host name may carry after
// "<service>.<namespace>": "echo.default.svc.wask.local".
const DefaultClusterDomain = "svc.wask.local"

// TableOptions are the inputs of Build besides the objects.
type TableOptions struct {
	// ClusterDomain: hosts "<service>.<namespace>.<ClusterDomain>" route
	// like "<service>.<namespace>". Default DefaultClusterDomain.
	ClusterDomain string
	// LocalNode is this node's name: its endpoints are called in-process.
	LocalNode string
}

// Policy is how a Route picks an endpoint.
type Policy int

const (
	// LeastRequest is power of two choices on in-flight requests: pick two
	// ready endpoints at random, send to the one with fewer requests in
	// flight. Service spec.loadBalancing "LeastRequest" or empty.
	LeastRequest Policy = iota
	// RoundRobin cycles through the ready endpoints. "RoundRobin".
	RoundRobin
)

func (p Policy) String() string {
	if p == RoundRobin {
		return "RoundRobin"
	}
	return "LeastRequest"
}

// Endpoint is one ready pod behind a Route.
type Endpoint struct {
	Namespace, Pod, UID string
	// Node runs the pod; Address is that node's mesh address (host:port).
	Node, Address string
	// Local is true when Node is this node: called in-process.
	Local bool

	load *endpointLoad // attached by loads.attach; nil in a bare Build
}

// key identifies the endpoint's load counters across rebuilds.
func (e *Endpoint) key() string { return e.Namespace + "/" + e.Pod + "/" + e.UID }

// Route is one Service and its ready endpoints.
type Route struct {
	Namespace, Name string
	Policy          Policy
	// ClientIPAffinity keeps a client address on one endpoint while it
	// stays ready (spec.sessionAffinity "ClientIP").
	ClientIPAffinity bool
	// PathPrefix is spec.pathPrefix ("" if none).
	PathPrefix string
	// Endpoints are the ready endpoints, sorted by pod name.
	Endpoints []*Endpoint
	// NotReady counts the endpoints that are listed but not ready.
	NotReady int

	rr atomic.Uint64 // round-robin cursor
}

// Table is an immutable route table: Build makes it, the proxy swaps it in
// atomically, and lookups never block.
type Table struct {
	byName   map[string]*Route // "namespace/name"
	prefixes []*Route          // routes with a PathPrefix, longest first
	domain   string            // "." + cluster domain
	// addresses are the mesh addresses of every remote endpoint.
	addresses map[string]bool
	// Conflicts lists path prefixes claimed by more than one Service: the
	// first by namespace/name wins.
	Conflicts []string
}

// Build makes the route table of services and their endpoints: a pure
// function of its inputs. Endpoints without a Service are ignored; a
// Service without Endpoints has a route with no endpoints (503).
func Build(services []*waskv1.Service, endpoints []*waskv1.Endpoints, opts TableOptions) *Table {
	domain := opts.ClusterDomain
	if domain == "" {
		domain = DefaultClusterDomain
	}
	t := &Table{byName: make(map[string]*Route, len(services)), domain: "." + strings.ToLower(strings.Trim(domain, ".")), addresses: map[string]bool{}}
	for _, s := range services {
		md, spec := s.GetMetadata(), s.GetSpec()
		r := &Route{Namespace: md.GetNamespace(), Name: md.GetName(), PathPrefix: spec.GetPathPrefix(),
			ClientIPAffinity: spec.GetSessionAffinity() == "ClientIP"}
		if spec.GetLoadBalancing() == "RoundRobin" {
			r.Policy = RoundRobin
		}
		t.byName[r.Namespace+"/"+r.Name] = r
	}
	for _, e := range endpoints {
		md := e.GetMetadata()
		r := t.byName[md.GetNamespace()+"/"+md.GetName()]
		if r == nil {
			continue
		}
		for _, a := range e.GetAddresses() {
			if !a.GetReady() || (a.GetAddress() == "" && a.GetNodeName() != opts.LocalNode) {
				r.NotReady++
				continue
			}
			if a.GetNodeName() != opts.LocalNode {
				t.addresses[a.GetAddress()] = true
			}
			r.Endpoints = append(r.Endpoints, &Endpoint{
				Namespace: r.Namespace, Pod: a.GetPodName(), UID: a.GetPodUid(),
				Node: a.GetNodeName(), Address: a.GetAddress(), Local: a.GetNodeName() == opts.LocalNode,
			})
		}
		slices.SortFunc(r.Endpoints, func(a, b *Endpoint) int { return strings.Compare(a.Pod, b.Pod) })
	}
	claimed := map[string]*Route{}
	for _, r := range sortedRoutes(t.byName) {
		if r.PathPrefix == "" {
			continue
		}
		if first, ok := claimed[r.PathPrefix]; ok {
			t.Conflicts = append(t.Conflicts, r.PathPrefix+": "+first.Namespace+"/"+first.Name+" wins over "+r.Namespace+"/"+r.Name)
			continue
		}
		claimed[r.PathPrefix] = r
		t.prefixes = append(t.prefixes, r)
	}
	slices.SortStableFunc(t.prefixes, func(a, b *Route) int { return cmp.Compare(len(b.PathPrefix), len(a.PathPrefix)) })
	return t
}

func sortedRoutes(m map[string]*Route) []*Route {
	out := make([]*Route, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *Route) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return out
}

// Routes returns every route, sorted by namespace and name.
func (t *Table) Routes() []*Route { return sortedRoutes(t.byName) }

// Service returns the route of a Service, or nil.
func (t *Table) Service(namespace, name string) *Route { return t.byName[namespace+"/"+name] }

// Lookup finds the route of a request: by Host "<service>.<namespace>"
// (optionally followed by the cluster domain; any port is ignored), else
// by a Service's spec.pathPrefix (longest first, on a path segment
// boundary), else by the path "/<namespace>/<service>[/...]". strip is the
// part of the path to remove before the pod sees it: "/<namespace>/<service>"
// for the last form, "" otherwise (a Service that chose a prefix serves
// under it).
func (t *Table) Lookup(host, path string) (r *Route, strip string) {
	if ns, svc, ok := t.splitHost(host); ok {
		if r := t.byName[ns+"/"+svc]; r != nil {
			return r, ""
		}
	}
	for _, r := range t.prefixes {
		if underPrefix(path, r.PathPrefix) {
			return r, ""
		}
	}
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return nil, ""
	}
	ns, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return nil, ""
	}
	svc, _, _ := strings.Cut(rest, "/")
	if r := t.byName[ns+"/"+svc]; r != nil {
		return r, "/" + ns + "/" + svc
	}
	return nil, ""
}

// splitHost returns the service and namespace a host names.
func (t *Table) splitHost(host string) (ns, svc string, ok bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	host = strings.TrimSuffix(host, t.domain)
	svc, ns, ok = strings.Cut(host, ".")
	if !ok || svc == "" || ns == "" || strings.Contains(ns, ".") {
		return "", "", false
	}
	return ns, svc, true
}

// underPrefix reports whether path is prefix or below it as a path segment:
// "/web" matches "/web" and "/web/x", not "/website"; a prefix ending in
// '/' matches anything starting with it.
func underPrefix(path, prefix string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || strings.HasSuffix(prefix, "/") || path[len(prefix)] == '/'
}
