package wasmlet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/wasmlet/sandbox"
)

// podRuntime is the actual state of one pod on this node: its lifecycle
// goroutine, its compiled module, its handler (http modes), its logs and
// the status the node reports for it.
//
//	        start                 exit (policy: no restart)
//	(new) ───────▶ running ───────────────────────────────────▶ finished
//	                 │ ▲  exit (restart, after back-off)
//	                 │ └──┘
//	                 └── terminate(grace) / kill ──▶ finished ──(deleting)──▶ Delete(grace 0)
type podRuntime struct {
	w                   *Wasmlet
	key, ns, name, uid  string
	pod                 *waskv1.Pod // as first seen; the spec is immutable
	done                chan struct{}
	cancel              context.CancelFunc
	logCur, logPrev     *logRun
	http                httpState  // http modes (http.go)
	mu                  sync.Mutex // guards the fields below and logCur/logPrev/http
	status              *waskv1.PodStatus
	grace               time.Duration
	deleting, finishing bool
	runs                int // runs started (logCur is the last one's once > 0)
}

func newPodRuntime(w *Wasmlet, pod *waskv1.Pod) *podRuntime {
	md := pod.GetMetadata()
	ns := md.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	p := &podRuntime{
		w: w, key: ns + "/" + md.GetName(), ns: ns, name: md.GetName(), uid: md.GetUid(),
		pod:  pod,
		done: make(chan struct{}),
	}
	p.status = proto.Clone(pod.GetStatus()).(*waskv1.PodStatus)
	if p.status == nil {
		p.status = &waskv1.PodStatus{}
	}
	p.status.HostIp = w.cfg.InternalIP
	p.logCur = newLogRun(w.cfg.LogBufferBytes)
	return p
}

// update changes the node's status of the pod and queues it to be written.
func (p *podRuntime) update(f func(s *waskv1.PodStatus, now time.Time)) {
	p.mu.Lock()
	f(p.status, p.w.cfg.Now())
	p.mu.Unlock()
	p.w.statusQueue.Add(p.key)
}

// statusSnapshot returns a copy of the node's status of the pod.
func (p *podRuntime) statusSnapshot() *waskv1.PodStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return proto.Clone(p.status).(*waskv1.PodStatus)
}

// finished reports whether the lifecycle goroutine has ended.
func (p *podRuntime) finished() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// terminate stops the pod within grace (deletion) and then deletes it for
// good. Idempotent.
func (p *podRuntime) terminate(grace time.Duration) {
	p.mu.Lock()
	if p.deleting {
		p.mu.Unlock()
		return
	}
	p.deleting = true
	p.grace = grace
	p.mu.Unlock()
	p.cancel()
}

// kill stops the pod at once (it is gone from the API, or the node stops).
func (p *podRuntime) kill() {
	p.cancel()
}

// newLogRun starts a new run's log, keeping the last one as the previous.
func (p *podRuntime) newLogRun() *logRun {
	r := newLogRun(p.w.cfg.LogBufferBytes)
	p.mu.Lock()
	old := p.logCur
	if p.runs > 0 {
		p.logPrev = old
	}
	p.runs++
	p.logCur = r
	p.mu.Unlock()
	if old != nil {
		old.close()
	}
	return r
}

// logs returns the current or previous run's log.
func (p *podRuntime) logs(previous bool) *logRun {
	p.mu.Lock()
	defer p.mu.Unlock()
	if previous {
		return p.logPrev
	}
	return p.logCur
}

// run is the pod's lifecycle goroutine: it prepares the module and runs the
// pod in its mode until ctx ends or a command pod is done for good.
func (p *podRuntime) run(ctx context.Context) {
	defer func() {
		p.mu.Lock()
		cur := p.logCur
		deleting := p.deleting
		p.mu.Unlock()
		cur.close()
		close(p.done)
		if deleting {
			p.w.finalizeDeletion(p.pod)
		}
	}()
	mod, spec, err := p.prepare(ctx)
	if err != nil {
		return
	}
	defer p.w.compiled.release(mod)
	switch p.pod.GetSpec().GetMode() {
	case sandbox.ModeCommand:
		p.runCommand(ctx, mod.mod, spec)
	default:
		p.runHTTP(ctx, mod.mod, spec)
	}
}

// prepare resolves, fetches and compiles the module and builds the
// sandbox spec, retrying failures with back-off; a spec the node can never
// run fails the pod. It returns an error only when the pod will not run.
func (p *podRuntime) prepare(ctx context.Context) (*compiled, sandbox.Spec, error) {
	for attempt := 0; ; attempt++ {
		mod, spec, err := p.tryPrepare(ctx)
		if err == nil {
			return mod, spec, nil
		}
		if ctx.Err() != nil {
			return nil, spec, ctx.Err()
		}
		var se *specError
		if errors.As(err, &se) {
			p.update(func(s *waskv1.PodStatus, now time.Time) {
				s.Phase, s.Reason, s.Message = PhaseFailed, se.Reason, se.Error()
				setCondition(s, CondInitialized, false, se.Reason, se.Error(), now)
				setCondition(s, CondReady, false, se.Reason, "", now)
			})
			return nil, spec, err
		}
		reason := "ModulePullBackOff"
		if connect.CodeOf(err) == connect.CodeNotFound {
			reason = "ModuleNotFound"
		}
		delay := restartDelay(p.w.cfg.RestartBackoff, p.w.cfg.MaxRestartBackoff, attempt)
		p.w.log.Warn("prepare pod", "pod", p.key, "err", err, "retry", delay)
		p.update(func(s *waskv1.PodStatus, now time.Time) {
			s.Phase, s.Reason, s.Message = PhasePending, reason, err.Error()
			setCondition(s, CondInitialized, false, reason, err.Error(), now)
			setCondition(s, CondReady, false, reason, "", now)
		})
		if !sleepCtx(ctx, delay) {
			return nil, spec, ctx.Err()
		}
	}
}

func (p *podRuntime) tryPrepare(ctx context.Context) (*compiled, sandbox.Spec, error) {
	spec, err := p.w.sandboxSpec(p.pod, nil)
	if err != nil {
		return nil, spec, err
	}
	digest, err := p.w.modules.resolve(ctx, p.pod.GetSpec().GetModule())
	if err != nil {
		return nil, spec, err
	}
	mod, err := p.w.compiled.acquire(ctx, digest, func(ctx context.Context) ([]byte, error) {
		return p.w.modules.get(ctx, digest)
	})
	if err != nil {
		return nil, spec, err
	}
	p.update(func(s *waskv1.PodStatus, now time.Time) {
		s.ModuleDigest = digest
		s.Reason, s.Message = "", ""
		setCondition(s, CondInitialized, true, "", "", now)
	})
	return mod, spec, nil
}

// fence checks, just before an instance starts, that the pod still exists
// as this uid, is bound to this node and is not being deleted: the
// informer's cache may be behind a rebinding or a deletion.
func (p *podRuntime) fence(ctx context.Context) bool {
	cur, err := client.Get[*waskv1.Pod](ctx, p.w.c, p.ns, p.name)
	if err != nil {
		if ctx.Err() == nil {
			p.w.log.Info("fence: pod not readable, not starting it", "pod", p.key, "err", err)
		}
		return false
	}
	md := cur.GetMetadata()
	return md.GetUid() == p.uid && cur.GetSpec().GetNodeName() == p.w.cfg.Name && md.GetDeletionTimestamp() == nil
}

// runCommand runs a command pod's instance, restarting it per the restart
// policy with exponential back-off, until it is done for good or ctx ends.
func (p *podRuntime) runCommand(ctx context.Context, mod *sandbox.Module, spec sandbox.Spec) {
	policy := p.pod.GetSpec().GetRestartPolicy()
	backoffs := 0
	for {
		if !p.fence(ctx) {
			return
		}
		out := p.newLogRun()
		spec.Stdout, spec.Stderr = out, out
		started := p.w.cfg.Now()
		p.update(func(s *waskv1.PodStatus, now time.Time) {
			s.Phase, s.Reason, s.Message = PhaseRunning, "", ""
			if s.StartTime == nil {
				s.StartTime = timestamppb.New(started)
			}
			setCondition(s, CondReady, true, "", "", now)
		})
		exit, err := p.w.rt.RunCommand(ctx, mod, spec)
		finished := p.w.cfg.Now()
		out.close()
		if ctx.Err() != nil {
			return // stopped by the node: deleted, or the node stops
		}
		if err != nil {
			exit = sandbox.Exit{Code: 128, Reason: "StartError", Message: err.Error()}
		}
		succeeded := exit.Reason == sandbox.ReasonCompleted && exit.Code == 0
		restart := shouldRestart(policy, succeeded)
		if finished.Sub(started) >= p.w.cfg.BackoffReset {
			backoffs = 0
		}
		delay := restartDelay(p.w.cfg.RestartBackoff, p.w.cfg.MaxRestartBackoff, backoffs)
		p.update(func(s *waskv1.PodStatus, now time.Time) {
			s.LastTermination = &waskv1.TerminationState{
				Reason: exit.Reason, ExitCode: int32(exit.Code), Message: exit.Message,
				StartedAt: timestamppb.New(started), FinishedAt: timestamppb.New(finished),
			}
			switch {
			case !restart && succeeded:
				s.Phase, s.Reason, s.Message = PhaseSucceeded, exit.Reason, ""
				setCondition(s, CondReady, false, "PodCompleted", "", now)
			case !restart:
				s.Phase, s.Reason, s.Message = PhaseFailed, exit.Reason, exitMessage(exit)
				setCondition(s, CondReady, false, "PodFailed", "", now)
			default:
				s.RestartCount++
				s.Reason = "CrashLoopBackOff"
				if succeeded {
					s.Reason = "Completed"
				}
				s.Message = fmt.Sprintf("back-off %s restarting the instance (%s)", delay, exitMessage(exit))
				setCondition(s, CondReady, false, s.Reason, "", now)
			}
		})
		if !restart {
			return
		}
		backoffs++
		if !sleepCtx(ctx, delay) {
			return
		}
	}
}

func exitMessage(e sandbox.Exit) string {
	msg := fmt.Sprintf("%s, exit code %d", e.Reason, e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
