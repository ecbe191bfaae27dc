package wasmlet

import (
	"context"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

// enqueue queues an informer object's pod to be synced.
func (w *Wasmlet) enqueue(o *waskv1.Object) {
	w.queue.Add(podKey(o.Metadata()))
}

func podKey(md *waskv1.ObjectMeta) string {
	ns := md.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	return ns + "/" + md.GetName()
}

// syncWorker syncs queued pods until the queue shuts down.
func (w *Wasmlet) syncWorker(ctx context.Context) {
	for {
		key, ok := w.queue.Get(ctx)
		if !ok {
			return
		}
		w.syncPod(ctx, key)
		w.queue.Done(key)
	}
}

// syncPod converges one pod's actual state on this node with its desired
// state (the pod in the informer's cache). Idempotent.
func (w *Wasmlet) syncPod(ctx context.Context, key string) {
	ns, name, _ := strings.Cut(key, "/")
	obj, exists := w.pods.Get(ns, name)
	w.mu.Lock()
	p := w.running[key]
	w.mu.Unlock()

	var pod *waskv1.Pod
	if exists {
		pod = obj.GetPod()
	}
	// Gone from the API (or replaced by a new pod of the same name), or
	// the node is fenced (cut off from the control plane for FenceAfter):
	// stop at once and forget it. A fenced node starts the pods still
	// bound to it again once its Lease is renewed.
	fenced := w.fenced.Load()
	if p != nil && (fenced || pod == nil || pod.GetMetadata().GetUid() != p.uid) {
		p.kill()
		<-p.done
		w.mu.Lock()
		if w.running[key] == p {
			delete(w.running, key)
		}
		w.mu.Unlock()
		p = nil
	}
	if fenced {
		return
	}
	if pod == nil {
		return
	}
	if pod.GetMetadata().GetDeletionTimestamp() != nil {
		if p == nil || p.finished() {
			w.finalizeDeletion(pod)
			return
		}
		p.terminate(time.Duration(pod.GetMetadata().GetDeletionGracePeriodSeconds()) * time.Second)
		return
	}
	if p != nil || w.draining.Load() || ctx.Err() != nil {
		return // running (the spec is immutable), or the node is stopping
	}
	p = newPodRuntime(w, proto.Clone(pod).(*waskv1.Pod))
	finished := w.reattach(p)
	podCtx, cancel := context.WithCancel(ctx)
	p.cancel = cancel
	if finished {
		cancel()
		close(p.done)
	}
	w.mu.Lock()
	w.running[key] = p
	w.mu.Unlock()
	w.statusQueue.Add(key) // a reattached pod may have news
	if finished {
		return
	}
	w.podWG.Add(1)
	go func() {
		defer w.podWG.Done()
		defer cancel()
		p.run(podCtx)
	}()
}

// reattach takes over the state a previous wasmlet of this node reported
// for a pod. It reports whether the pod is finished (Succeeded or Failed:
// nothing runs again). A command pod that was running lost its instance
// with the previous wasmlet: that counts as a restart (or, with restart
// policy Never, as a failure).
func (w *Wasmlet) reattach(p *podRuntime) bool {
	s := p.status
	switch s.GetPhase() {
	case PhaseSucceeded, PhaseFailed:
		return true
	case PhaseRunning:
		if p.pod.GetSpec().GetMode() != "command" {
			return false
		}
		now := timestamppb.New(w.cfg.Now())
		s.LastTermination = &waskv1.TerminationState{Reason: "Killed", ExitCode: 137, Message: "the node agent restarted while the instance ran", FinishedAt: now}
		if p.pod.GetSpec().GetRestartPolicy() == "Never" {
			s.Phase, s.Reason, s.Message = PhaseFailed, "Killed", "the node agent restarted while the instance ran"
			setCondition(s, CondReady, false, "PodFailed", "", w.cfg.Now())
			return true
		}
		s.RestartCount++
	}
	return false
}

// finalizeDeletion removes a stopped pod from the API for good (its
// deletion waited for this node).
func (w *Wasmlet) finalizeDeletion(pod *waskv1.Pod) {
	md := pod.GetMetadata()
	zero := int64(0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := w.c.Objects.Delete(ctx, connect.NewRequest(&waskv1.DeleteRequest{
		Kind: "Pod", Namespace: md.GetNamespace(), Name: md.GetName(),
		GracePeriodSeconds: &zero,
		Preconditions:      &waskv1.Preconditions{Uid: md.GetUid()},
	}))
	switch connect.CodeOf(err) {
	case connect.CodeNotFound, connect.CodeAborted: // already gone, or another pod now
	default:
		if err != nil {
			w.log.Warn("delete stopped pod", "pod", podKey(md), "err", err)
			w.queue.AddRateLimited(podKey(md))
		}
	}
}

// statusWorker writes queued pods' status until the queue shuts down.
func (w *Wasmlet) statusWorker(ctx context.Context) {
	for {
		key, ok := w.statusQueue.Get(ctx)
		if !ok {
			return
		}
		if err := w.syncStatus(ctx, key); err != nil && ctx.Err() == nil {
			w.log.Warn("write pod status", "pod", key, "err", err)
			w.statusQueue.AddRateLimited(key)
		} else {
			w.statusQueue.Forget(key)
		}
		w.statusQueue.Done(key)
	}
}

// syncStatus writes the node's status of a pod if the stored one differs.
func (w *Wasmlet) syncStatus(ctx context.Context, key string) error {
	w.mu.Lock()
	p := w.running[key]
	w.mu.Unlock()
	if p == nil {
		return nil
	}
	obj, ok := w.pods.Get(p.ns, p.name)
	if !ok || obj.GetPod().GetMetadata().GetUid() != p.uid {
		return nil
	}
	cur := obj.GetPod().GetStatus()
	want := mergeStatus(cur, p.statusSnapshot(), w.cfg.Now())
	if proto.Equal(want, cur) {
		return nil
	}
	_, err := client.UpdateStatus(ctx, w.c, &waskv1.Pod{
		Metadata: &waskv1.ObjectMeta{Name: p.name, Namespace: p.ns},
		Status:   want,
	})
	switch connect.CodeOf(err) {
	case connect.CodeNotFound, connect.CodePermissionDenied:
		return nil // gone, or no longer bound here
	}
	return err
}
