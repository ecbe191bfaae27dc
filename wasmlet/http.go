package wasmlet

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/wasmlet/sandbox"
)

// Invoke serves one HTTP request with the pod namespace/pod's handler,
// in-process (the meshproxy calls it for local endpoints). A pod that is
// not on this node gets 404; one that is not serving (starting,
// stopping, a command pod) gets 503. Both carry the header
// Wask-Invoke-Error and come before anything of r.Body is read, so the
// caller can tell them from the guest's own responses and try elsewhere
// (meshproxy.HeaderNotReached; a test in cmd/wask checks the two agree).
func (w *Wasmlet) Invoke(ctx context.Context, namespace, pod string, rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	p := w.running[namespace+"/"+pod]
	w.mu.Unlock()
	if p == nil {
		invokeError(rw, http.StatusNotFound, "pod "+namespace+"/"+pod+" is not on node "+w.cfg.Name)
		return
	}
	p.mu.Lock()
	h := p.http.handler
	p.mu.Unlock()
	if h == nil {
		invokeError(rw, http.StatusServiceUnavailable, "pod "+namespace+"/"+pod+" is not serving")
		return
	}
	if err := h.Serve(rw, r.WithContext(ctx)); errors.Is(err, sandbox.ErrClosed) {
		invokeError(rw, http.StatusServiceUnavailable, "pod "+namespace+"/"+pod+" is stopping")
	} else if err != nil {
		http.Error(rw, "pod "+namespace+"/"+pod+": "+err.Error(), http.StatusServiceUnavailable)
	}
}

// httpState is an http pod's serving state, guarded by podRuntime.mu.
type httpState struct {
	handler *sandbox.Handler // nil while not serving
}

// InvokeErrorHeader marks responses Invoke made itself (not the guest).
const InvokeErrorHeader = "Wask-Invoke-Error"

func invokeError(rw http.ResponseWriter, code int, msg string) {
	rw.Header().Set(InvokeErrorHeader, "1")
	http.Error(rw, msg, code)
}

// drain stops the pod as for a node shutdown: within its grace period.
func (p *podRuntime) drain(ctx context.Context) {
	grace := 30 * time.Second
	if g, err := time.ParseDuration(p.pod.GetSpec().GetTerminationGracePeriod()); err == nil {
		grace = g
	}
	if dl, ok := ctx.Deadline(); ok {
		grace = min(grace, time.Until(dl))
	}
	p.mu.Lock()
	if !p.deleting {
		p.grace = grace
	}
	p.mu.Unlock()
	p.kill()
}

// runHTTP serves an http pod until ctx ends, probing it, and restarting
// its handler when the liveness probe fails (unless the restart policy is
// Never); then it closes the handler within the grace period.
func (p *podRuntime) runHTTP(ctx context.Context, mod *sandbox.Module, spec sandbox.Spec) {
	ps := p.pod.GetSpec()
	pool := sandbox.PoolConfig{}
	if c, ok := ps.GetResources().GetLimits()["concurrency"]; ok {
		if n, err := strconv.Atoi(c); err == nil && n > 0 {
			pool.MaxInstances = n
		}
	}
	for {
		if !p.fence(ctx) {
			return
		}
		out := p.newLogRun()
		spec.Stdout, spec.Stderr = out, out
		h, err := p.w.rt.NewHandler(mod, spec, ps.GetMode(), pool)
		if err != nil {
			p.update(func(s *waskv1.PodStatus, now time.Time) {
				s.Phase, s.Reason, s.Message = PhaseFailed, "StartError", err.Error()
				setCondition(s, CondReady, false, "StartError", "", now)
			})
			return
		}
		p.w.openHandlers.Add(1)
		started := p.w.cfg.Now()
		p.mu.Lock()
		p.http.handler = h
		p.mu.Unlock()
		ready := ps.GetReadinessProbe() == nil
		p.update(func(s *waskv1.PodStatus, now time.Time) {
			s.Phase, s.Reason, s.Message = PhaseRunning, "", ""
			if s.StartTime == nil {
				s.StartTime = timestamppb.New(started)
			}
			setCondition(s, CondReady, ready, readyReason(ready), "", now)
		})
		live := p.probe(ctx, h)

		p.mu.Lock()
		p.http.handler = nil
		grace := p.grace
		p.mu.Unlock()
		closeCtx, cancel := context.WithTimeout(context.Background(), grace)
		h.Close(closeCtx)
		p.w.openHandlers.Add(-1)
		cancel()
		out.close()
		if ctx.Err() != nil || live {
			return
		}
		finished := p.w.cfg.Now()
		restart := ps.GetRestartPolicy() != "Never"
		p.update(func(s *waskv1.PodStatus, now time.Time) {
			s.LastTermination = &waskv1.TerminationState{
				Reason: "LivenessProbeFailed", Message: "the liveness probe failed",
				StartedAt: timestamppb.New(started), FinishedAt: timestamppb.New(finished),
			}
			if restart {
				s.RestartCount++
			} else {
				s.Phase, s.Reason, s.Message = PhaseFailed, "LivenessProbeFailed", "the liveness probe failed"
			}
			setCondition(s, CondReady, false, "LivenessProbeFailed", "", now)
		})
		if !restart {
			return
		}
	}
}

func readyReason(ready bool) string {
	if ready {
		return ""
	}
	return "ReadinessProbePending"
}
