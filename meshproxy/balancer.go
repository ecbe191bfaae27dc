package meshproxy

import (
	"hash/fnv"
	"sync"
	"sync/atomic"
)

// endpointLoad counts one endpoint's requests in flight. It outlives table
// rebuilds: an endpoint that stays keeps its counter.
type endpointLoad struct{ inflight atomic.Int64 }

// loads owns the endpoints' load counters, keyed by namespace/pod/uid.
type loads struct {
	mu sync.Mutex
	m  map[string]*endpointLoad
}

// attach gives every endpoint of t its counter (the same one as in the
// previous table) and forgets endpoints no longer in any route. Requests in
// flight to a forgotten endpoint keep their pointer and end harmlessly.
func (l *loads) attach(t *Table) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fresh := make(map[string]*endpointLoad, len(l.m))
	for _, r := range t.byName {
		for _, e := range r.Endpoints {
			k := e.key()
			c := l.m[k]
			if c == nil {
				c = fresh[k]
			}
			if c == nil {
				c = &endpointLoad{}
			}
			fresh[k] = c
			e.load = c
		}
	}
	l.m = fresh
}

// inflight returns e's requests in flight (0 if it has no counter).
func (e *Endpoint) inflight() int64 {
	if e.load == nil {
		return 0
	}
	return e.load.inflight.Load()
}

func (e *Endpoint) begin() {
	if e.load != nil {
		e.load.inflight.Add(1)
	}
}

func (e *Endpoint) end() {
	if e.load != nil {
		e.load.inflight.Add(-1)
	}
}

// Pick chooses an endpoint of r for one request, or nil if none is
// eligible. Eligible: ready (every endpoint of a Route is), not on a node
// down reports as down (down may be nil), and not in tried (the endpoints a
// retry already failed on). clientIP is used by ClientIPAffinity; intn(n)
// returns a uniform random integer in [0, n) (randomness is an input).
func (r *Route) Pick(clientIP string, tried []*Endpoint, down func(address string) bool, intn func(int) int) *Endpoint {
	var buf [16]*Endpoint
	cands := buf[:0]
	for _, e := range r.Endpoints {
		if !e.Local && down != nil && down(e.Address) {
			continue
		}
		if containsEndpoint(tried, e) {
			continue
		}
		cands = append(cands, e)
	}
	switch {
	case len(cands) == 0:
		return nil
	case len(cands) == 1:
		return cands[0]
	case r.ClientIPAffinity && clientIP != "":
		return rendezvous(cands, clientIP)
	case r.Policy == RoundRobin:
		return cands[(r.rr.Add(1)-1)%uint64(len(cands))]
	}
	i := intn(len(cands))
	j := intn(len(cands) - 1)
	if j >= i {
		j++
	}
	a, b := cands[i], cands[j]
	if b.inflight() < a.inflight() {
		return b
	}
	return a
}

func containsEndpoint(list []*Endpoint, e *Endpoint) bool {
	for _, t := range list {
		if t == e {
			return true
		}
	}
	return false
}

// rendezvous is highest-random-weight hashing: a client keeps its endpoint
// while that endpoint stays eligible, and only the clients of a removed
// endpoint move.
func rendezvous(cands []*Endpoint, clientIP string) *Endpoint {
	var best *Endpoint
	var bestScore uint64
	for _, e := range cands {
		h := fnv.New64a()
		h.Write([]byte(clientIP))
		h.Write([]byte{0})
		h.Write([]byte(e.key()))
		if s := h.Sum64(); best == nil || s > bestScore {
			best, bestScore = e, s
		}
	}
	return best
}
