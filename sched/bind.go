package sched

import (
	"context"
	"sync"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// bindRequest is a placement waiting to be written.
type bindRequest struct {
	entry *qEntry
	info  *PodInfo
	node  string
}

// runBinder sends placements to the apiserver's Bind RPC. It takes
// everything waiting (up to Config.BindBatchSize) into one call, so a lone
// pod is bound at once and a deep queue is bound in big batches, one
// durable write each; up to Options.BindWorkers calls are in flight.
func (s *Scheduler) runBinder(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, s.opts.BindWorkers)
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		var batch []bindRequest
		select {
		case b := <-s.binds:
			batch = append(batch, b)
		case <-ctx.Done():
			return
		}
	drain:
		for len(batch) < s.opts.Config.BindBatchSize {
			select {
			case b := <-s.binds:
				batch = append(batch, b)
			default:
				break drain
			}
		}
		wg.Go(func() {
			defer func() { <-slots }()
			s.bind(ctx, batch)
		})
	}
}

// bind writes one batch and settles each pod: bound pods leave the queue
// (the informer soon shows them bound, replacing the assumption); pods
// another scheduler bound, or that are gone, leave it too; others are
// retried after their back-off. A failed binding's room is freed, so
// unschedulable pods are retried.
func (s *Scheduler) bind(ctx context.Context, batch []bindRequest) {
	req := &waskv1.BindRequest{Bindings: make([]*waskv1.Binding, len(batch))}
	for i, b := range batch {
		md := b.info.Pod.GetMetadata()
		req.Bindings[i] = &waskv1.Binding{Namespace: md.GetNamespace(), Name: md.GetName(), Uid: md.GetUid(), NodeName: b.node}
	}
	s.metrics.bindBatch.Observe(float64(len(batch)))
	resp, err := s.opts.Client.Objects.Bind(ctx, connect.NewRequest(req))
	now := s.opts.Now()
	if err != nil && ctx.Err() != nil {
		return
	}
	if err != nil {
		s.log.Warn("scheduler: bind failed, retrying", "pods", len(batch), "err", err)
	}
	freed := false
	for i, b := range batch {
		code, msg := "unavailable", ""
		if err == nil && i < len(resp.Msg.GetResults()) {
			r := resp.Msg.GetResults()[i]
			code, msg = r.GetCode(), r.GetMessage()
		}
		if code == "" {
			s.queue.Done(b.entry)
			s.metrics.bound.Inc()
			if ct := b.info.Pod.GetMetadata().GetCreationTimestamp(); ct != nil {
				s.metrics.e2e.Observe(now.Sub(ct.AsTime()).Seconds())
			}
			continue
		}
		s.mu.Lock()
		s.snap.Forget(b.info.Key)
		s.mu.Unlock()
		freed = true
		s.metrics.bindErrors.WithLabelValues(code).Inc()
		switch code {
		case "failed_precondition", "not_found":
			// Bound by someone else, being deleted, or gone: the
			// informer brings the truth.
			s.log.Debug("scheduler: pod not bound", "pod", b.info.Key, "node", b.node, "code", code, "msg", msg)
			s.queue.Done(b.entry)
		default:
			if err == nil {
				s.log.Warn("scheduler: binding refused, retrying", "pod", b.info.Key, "node", b.node, "code", code, "msg", msg)
			}
			s.queue.Retry(b.entry)
		}
	}
	if freed {
		s.queue.MoveAll()
	}
}
