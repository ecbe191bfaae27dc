package wasmlet

// Stats is a snapshot of what a node holds.
type Stats struct {
	// Pods the node knows (running, backing off, or finished and kept for
	// their status and logs until deleted).
	Pods int
	// Active pods: their lifecycle is running (an instance, a back-off
	// wait, or an http handler).
	Active int
	// Serving http pods: their handler accepts requests.
	Serving int
	// Instances are the live sandbox instances of the http pods' handlers
	// (idle pools scale to zero).
	Instances int
	// OpenHandlers are the sandbox handlers made and not yet closed (equal
	// to Serving but while one is being closed).
	OpenHandlers int
	// CompiledModules open (used by pods or kept by the cache), and how
	// many of them the cache holds.
	CompiledModules, CachedModules int
	// InFlight requests (and probes) inside the http pods' handlers.
	InFlight int
}

// Stats returns what the node holds now.
func (w *Wasmlet) Stats() Stats {
	var s Stats
	w.mu.Lock()
	s.Pods = len(w.running)
	for _, p := range w.running {
		if !p.finished() {
			s.Active++
		}
		p.mu.Lock()
		if h := p.http.handler; h != nil {
			s.Serving++
			hs := h.Stats()
			s.Instances += hs.Instances
			s.InFlight += hs.InFlight
		}
		p.mu.Unlock()
	}
	w.mu.Unlock()
	s.OpenHandlers = int(w.openHandlers.Load())
	select {
	case <-w.started:
	default:
		return s
	}
	if w.compiled != nil {
		s.CompiledModules, s.CachedModules = w.compiled.open()
	}
	return s
}
