package wasmlet

import (
	"context"
	"net/http"
	"net/http/httptest"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/wasmlet/sandbox"
)

// probeSettings is a Probe with its defaults applied.
type probeSettings struct {
	path                  string
	export                string // call this export instead of GET path
	initialDelay, period  time.Duration
	timeout               time.Duration
	successes, failures   int
	consecutiveOK, failed int
	healthy               bool
	reported              bool // the first result was reported
	next                  time.Time
}

func newProbeSettings(pr *waskv1.Probe, start time.Time) *probeSettings {
	if pr == nil {
		return nil
	}
	dur := func(s string, def time.Duration) time.Duration {
		if d, err := time.ParseDuration(s); err == nil && d >= 0 {
			return d
		}
		return def
	}
	s := &probeSettings{
		path:         pr.GetHttpGet().GetPath(),
		export:       pr.GetCall().GetExport(),
		initialDelay: dur(pr.GetInitialDelay(), 0),
		period:       dur(pr.GetPeriod(), 10*time.Second),
		timeout:      dur(pr.GetTimeout(), time.Second),
		successes:    int(pr.GetSuccessThreshold()),
		failures:     int(pr.GetFailureThreshold()),
	}
	if s.path == "" {
		s.path = "/"
	}
	if s.period <= 0 {
		s.period = 10 * time.Second
	}
	if s.successes <= 0 {
		s.successes = 1
	}
	if s.failures <= 0 {
		s.failures = 3
	}
	s.next = start.Add(s.initialDelay)
	return s
}

// record counts one probe result and reports whether the healthy state
// changed.
func (s *probeSettings) record(ok bool) bool {
	was := s.healthy
	if ok {
		s.failed = 0
		s.consecutiveOK++
		if s.consecutiveOK >= s.successes {
			s.healthy = true
		}
	} else {
		s.consecutiveOK = 0
		s.failed++
		if s.failed >= s.failures {
			s.healthy = false
		}
	}
	return was != s.healthy
}

// probe runs the pod's readiness and liveness probes against h until ctx
// ends (it returns true) or the liveness probe fails failureThreshold times
// in a row (false). Readiness changes are reported in the Ready condition.
func (p *podRuntime) probe(ctx context.Context, h *sandbox.Handler) bool {
	ps := p.pod.GetSpec()
	now := time.Now()
	ready := newProbeSettings(ps.GetReadinessProbe(), now)
	live := newProbeSettings(ps.GetLivenessProbe(), now)
	if live != nil {
		live.healthy = true // alive until proven otherwise
	}
	if ready == nil && live == nil {
		<-ctx.Done()
		return true
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return true
		case <-timer.C:
		}
		now := time.Now()
		if ready != nil && !now.Before(ready.next) {
			ready.next = now.Add(ready.period)
			if ready.record(probeOnce(ctx, h, ready)) || !ready.reported {
				ready.reported = true
				ok := ready.healthy
				p.update(func(s *waskv1.PodStatus, now time.Time) {
					reason := ""
					if !ok {
						reason = "ReadinessProbeFailed"
					}
					setCondition(s, CondReady, ok, reason, "", now)
				})
			}
		}
		if live != nil && !now.Before(live.next) {
			live.next = now.Add(live.period)
			if live.record(probeOnce(ctx, h, live)) && !live.healthy {
				return false
			}
		}
		next := time.Hour
		for _, s := range []*probeSettings{ready, live} {
			if s != nil {
				next = min(next, time.Until(s.next))
			}
		}
		timer.Reset(max(next, 0))
	}
}

// probeOnce makes one probe: a call of the export that returns 0, or a
// request answered 2xx or 3xx, within the timeout passes.
func probeOnce(ctx context.Context, h *sandbox.Handler, s *probeSettings) bool {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if s.export != "" {
		return h.Call(ctx, s.export) == nil && ctx.Err() == nil
	}
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, s.path, nil)
	req.Header.Set("User-Agent", "wask-probe/1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return ctx.Err() == nil && rec.Code >= 200 && rec.Code < 400
}
