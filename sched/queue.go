package sched

import (
	"container/heap"
	"context"
	"sync"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// queue holds the unbound pods waiting for a node, like kube-scheduler's
// scheduling queue:
//
//	            Add                       Pop
//	informer ─────────▶ active (heap) ─────────▶ scheduling cycle
//	                      ▲     ▲                 │ no node fits
//	     back-off expired │     │ cluster change  ▼
//	                   backoff ◀──────────── unschedulable
//	                     (heap)  cluster change,
//	                             back-off not expired
//
// Active pods are popped by priority (higher first), then by the time
// they were queued. A pod that fits no node waits in unschedulable until
// something changes that might make it fit (MoveAll: a node, a pod leaving
// a node, a module); then it is retried once its back-off has passed. The
// back-off doubles per failed attempt from Config.InitialBackoff up to
// MaxBackoff. There is no periodic retry: the snapshot changes only
// through such events.
type queue struct {
	initial, maxBackoff time.Duration
	now                 func() time.Time

	mu            sync.Mutex
	entries       map[string]*qEntry // every pod the queue knows, by key
	active        entryHeap
	backoff       entryHeap
	unschedulable map[string]*qEntry
	inFlight      map[string]*qEntry
	moves         uint64 // MoveAll calls so far
	wake          chan struct{}
	timer         *time.Timer
	closed        bool
}

type qEntry struct {
	key      string
	pod      *waskv1.Pod
	queued   time.Time // when it last entered active
	attempts int
	until    time.Time // back-off expiry
	where    int       // which of active/backoff/unschedulable/inFlight
	index    int       // in its heap
	moveSeq  uint64    // q.moves when popped
	prio     int32
	deleted  bool
	requeue  bool // updated while in flight
}

const (
	inActive = iota
	inBackoff
	inUnschedulable
	inFlight
)

func newQueue(initial, maxBackoff time.Duration, now func() time.Time) *queue {
	return &queue{
		initial: initial, maxBackoff: maxBackoff, now: now,
		entries: map[string]*qEntry{}, unschedulable: map[string]*qEntry{}, inFlight: map[string]*qEntry{},
		active: entryHeap{less: activeLess}, backoff: entryHeap{less: backoffLess},
		wake: make(chan struct{}, 1),
	}
}

func activeLess(a, b *qEntry) bool {
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	if !a.queued.Equal(b.queued) {
		return a.queued.Before(b.queued)
	}
	return a.key < b.key
}

func backoffLess(a, b *qEntry) bool {
	if !a.until.Equal(b.until) {
		return a.until.Before(b.until)
	}
	return a.key < b.key
}

// Add queues an unbound pod, or updates the queued copy. A pod already
// waiting (back-off, unschedulable) keeps waiting unless retry is set
// (its spec changed, so it may fit now).
func (q *queue) Add(pod *waskv1.Pod, retry bool) {
	key := pod.GetMetadata().GetNamespace() + "/" + pod.GetMetadata().GetName()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	e, ok := q.entries[key]
	if !ok {
		e = &qEntry{key: key, pod: pod, prio: pod.GetSpec().GetPriority()}
		q.entries[key] = e
		q.toActive(e)
		return
	}
	e.pod = pod
	switch e.where {
	case inFlight:
		if retry {
			e.requeue = true
		}
	case inUnschedulable, inBackoff:
		if retry {
			q.detach(e)
			q.toActive(e)
		}
	case inActive:
		if p := pod.GetSpec().GetPriority(); p != e.prio {
			e.prio = p
			heap.Fix(&q.active, e.index)
		}
	}
}

// Delete forgets a pod (bound, deleted, or no longer ours).
func (q *queue) Delete(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[key]
	if !ok {
		return
	}
	if e.where == inFlight {
		e.deleted = true // Done drops it
		return
	}
	q.detach(e)
	delete(q.entries, key)
}

// Pop blocks until a pod is active and hands it out; the caller must call
// Done, Unschedulable or Retry with it. It returns nil when ctx ends.
func (q *queue) Pop(ctx context.Context) *qEntry {
	for {
		q.mu.Lock()
		q.flushBackoffLocked()
		if q.active.Len() > 0 {
			e := heap.Pop(&q.active).(*qEntry)
			e.where = inFlight
			e.moveSeq = q.moves
			e.attempts++
			q.inFlight[e.key] = e
			q.mu.Unlock()
			return e
		}
		q.armTimerLocked()
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-ctx.Done():
			return nil
		}
	}
}

// Done drops a pod that was placed (or given up on): it leaves the queue.
// If it was updated meanwhile in a way that matters, it is queued again.
func (q *queue) Done(e *qEntry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, e.key)
	if e.requeue && !e.deleted {
		e.requeue = false
		q.toActive(e)
		return
	}
	delete(q.entries, e.key)
}

// Unschedulable parks a pod that fits no node until the cluster changes.
// If the cluster changed while it was being scheduled, it goes straight to
// back-off, since the change may already make it fit.
func (q *queue) Unschedulable(e *qEntry) { q.park(e, false) }

// Retry queues a pod again after its back-off (its binding failed).
func (q *queue) Retry(e *qEntry) { q.park(e, true) }

// park ends an attempt that did not bind e: into back-off if retry is set
// or something changed meanwhile, else into unschedulable.
func (q *queue) park(e *qEntry, retry bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, e.key)
	if e.deleted {
		delete(q.entries, e.key)
		return
	}
	e.until = q.now().Add(q.backoffFor(e.attempts))
	if retry || e.requeue || q.moves != e.moveSeq {
		e.requeue = false
		q.toBackoff(e)
		return
	}
	e.where = inUnschedulable
	q.unschedulable[e.key] = e
}

// MoveAll retries every unschedulable pod: into active if its back-off
// has passed, else into back-off.
func (q *queue) MoveAll() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moves++
	now := q.now()
	for key, e := range q.unschedulable {
		delete(q.unschedulable, key)
		if e.until.After(now) {
			q.toBackoff(e)
		} else {
			q.toActive(e)
		}
	}
}

// Len returns the number of pods active, backing off and unschedulable.
func (q *queue) Len() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unschedulable)
}

// Close wakes Pop and stops the timer.
func (q *queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	if q.timer != nil {
		q.timer.Stop()
	}
}

func (q *queue) backoffFor(attempts int) time.Duration {
	d := q.initial
	for i := 1; i < attempts && d < q.maxBackoff; i++ {
		d *= 2
	}
	return min(d, q.maxBackoff)
}

func (q *queue) detach(e *qEntry) {
	switch e.where {
	case inActive:
		heap.Remove(&q.active, e.index)
	case inBackoff:
		heap.Remove(&q.backoff, e.index)
	case inUnschedulable:
		delete(q.unschedulable, e.key)
	case inFlight:
		delete(q.inFlight, e.key)
	}
}

func (q *queue) toActive(e *qEntry) {
	e.where = inActive
	e.queued = q.now()
	e.prio = e.pod.GetSpec().GetPriority()
	heap.Push(&q.active, e)
	q.signal()
}

func (q *queue) toBackoff(e *qEntry) {
	e.where = inBackoff
	heap.Push(&q.backoff, e)
	q.signal() // Pop re-arms its timer for the earliest expiry
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// flushBackoffLocked moves pods whose back-off has passed to active.
func (q *queue) flushBackoffLocked() {
	now := q.now()
	for q.backoff.Len() > 0 && !q.backoff.items[0].until.After(now) {
		e := heap.Pop(&q.backoff).(*qEntry)
		q.toActive(e)
	}
}

// armTimerLocked wakes Pop when the earliest back-off expires.
func (q *queue) armTimerLocked() {
	if q.backoff.Len() == 0 || q.closed {
		return
	}
	d := q.backoff.items[0].until.Sub(q.now())
	if q.timer == nil {
		q.timer = time.AfterFunc(d, q.signal)
	} else {
		q.timer.Reset(d)
	}
}

// entryHeap is a heap of queue entries.
type entryHeap struct {
	items []*qEntry
	less  func(a, b *qEntry) bool
}

func (h entryHeap) Len() int           { return len(h.items) }
func (h entryHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h entryHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *entryHeap) Push(x any) {
	e := x.(*qEntry)
	e.index = len(h.items)
	h.items = append(h.items, e)
}
func (h *entryHeap) Pop() any {
	e := h.items[len(h.items)-1]
	h.items[len(h.items)-1] = nil
	h.items = h.items[:len(h.items)-1]
	return e
}
