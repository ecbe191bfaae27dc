package wasmlet

import (
	"context"
	"net/http"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/wasmlet/sandbox"
)

// httpState is an http pod's serving state, guarded by podRuntime.mu.
type httpState struct{}

// Invoke serves one HTTP request with the pod namespace/pod's handler,
// in-process (the meshproxy calls it for local endpoints). A pod that is
// not on this node gets 404; one that is not serving gets 503. Both carry
// the header Wask-Invoke-Error, so the caller can tell them from the
// guest's own responses and try elsewhere.
func (w *Wasmlet) Invoke(ctx context.Context, namespace, pod string, rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	p := w.running[namespace+"/"+pod]
	w.mu.Unlock()
	if p == nil {
		invokeError(rw, http.StatusNotFound, "pod "+namespace+"/"+pod+" is not on node "+w.cfg.Name)
		return
	}
	invokeError(rw, http.StatusServiceUnavailable, "pod "+namespace+"/"+pod+" is not serving")
}

// InvokeErrorHeader marks responses Invoke made itself (not the guest).
const InvokeErrorHeader = "Wask-Invoke-Error"

func invokeError(rw http.ResponseWriter, code int, msg string) {
	rw.Header().Set(InvokeErrorHeader, "1")
	http.Error(rw, msg, code)
}

// drain stops the pod as for a node shutdown.
func (p *podRuntime) drain(context.Context) { p.kill() }

// runHTTP: the http modes wait for the sandbox's Handler.
func (p *podRuntime) runHTTP(ctx context.Context, mod *sandbox.Module, spec sandbox.Spec) {
	p.update(func(s *waskv1.PodStatus, now time.Time) {
		s.Phase, s.Reason, s.Message = PhaseFailed, "ModeNotSupported", "this node does not run "+p.pod.GetSpec().GetMode()+" pods yet"
		setCondition(s, CondReady, false, "ModeNotSupported", "", now)
	})
}
