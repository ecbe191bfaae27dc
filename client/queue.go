package client

import (
	"context"
	"sync"
	"time"
)

// Queue is a work queue of keys for level-based controllers, like
// client-go's rate-limited workqueue:
//
//   - an item queued several times before a worker gets it is handed out
//     once (deduplication);
//   - an item is never handed to two workers at once: if it is added while
//     a worker holds it, it is queued again when the worker calls Done;
//   - AddRateLimited re-queues an item after a per-item exponential
//     back-off that Forget resets.
//
// The zero value is not usable; call NewQueue.
type Queue[T comparable] struct {
	opts QueueOptions

	mu         sync.Mutex
	items      []T
	dirty      map[T]struct{} // queued, or to re-queue at Done
	processing map[T]struct{}
	failures   map[T]int
	timers     map[*time.Timer]struct{}
	wake       chan struct{} // closed and replaced when items are added
	shutdown   bool
}

// QueueOptions configure a Queue's back-off.
type QueueOptions struct {
	// BaseDelay is the first back-off of AddRateLimited. Default: 5 ms.
	BaseDelay time.Duration
	// MaxDelay caps the back-off. Default: 30 s.
	MaxDelay time.Duration
}

// NewQueue returns an empty queue.
func NewQueue[T comparable](opts QueueOptions) *Queue[T] {
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = 5 * time.Millisecond
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 30 * time.Second
	}
	return &Queue[T]{
		opts:       opts,
		dirty:      map[T]struct{}{},
		processing: map[T]struct{}{},
		failures:   map[T]int{},
		timers:     map[*time.Timer]struct{}{},
		wake:       make(chan struct{}),
	}
}

// Add queues item unless it is already queued.
func (q *Queue[T]) Add(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(item)
}

func (q *Queue[T]) addLocked(item T) {
	if q.shutdown {
		return
	}
	if _, ok := q.dirty[item]; ok {
		return
	}
	q.dirty[item] = struct{}{}
	if _, ok := q.processing[item]; ok {
		return // queued again at Done
	}
	q.items = append(q.items, item)
	close(q.wake)
	q.wake = make(chan struct{})
}

// AddAfter queues item after d.
func (q *Queue[T]) AddAfter(item T, d time.Duration) {
	if d <= 0 {
		q.Add(item)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		delete(q.timers, t)
		q.addLocked(item)
	})
	q.timers[t] = struct{}{}
}

// AddRateLimited queues item after its back-off, which doubles with each
// call until Forget.
func (q *Queue[T]) AddRateLimited(item T) {
	q.mu.Lock()
	n := q.failures[item]
	q.failures[item] = n + 1
	q.mu.Unlock()
	q.AddAfter(item, backoff(q.opts.BaseDelay, q.opts.MaxDelay, n))
}

func backoff(base, maxDelay time.Duration, failures int) time.Duration {
	d := base
	for i := 0; i < failures && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}

// Forget resets item's back-off; call it when the item was handled.
func (q *Queue[T]) Forget(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.failures, item)
}

// NumRequeues returns how many times item was re-queued since Forget.
func (q *Queue[T]) NumRequeues(item T) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failures[item]
}

// Get blocks until an item is available, and hands it to the caller, who
// must call Done with it. It returns false when the queue is shut down (and
// drained) or ctx ends.
func (q *Queue[T]) Get(ctx context.Context) (T, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			item := q.items[0]
			var zero T
			q.items[0] = zero
			q.items = q.items[1:]
			delete(q.dirty, item)
			q.processing[item] = struct{}{}
			q.mu.Unlock()
			return item, true
		}
		if q.shutdown {
			q.mu.Unlock()
			var zero T
			return zero, false
		}
		wake := q.wake
		q.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			var zero T
			return zero, false
		}
	}
}

// Done marks item as handled; if it was added meanwhile it is queued again.
func (q *Queue[T]) Done(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, item)
	if _, ok := q.dirty[item]; ok && !q.shutdown {
		q.items = append(q.items, item)
		close(q.wake)
		q.wake = make(chan struct{})
	}
}

// Len returns the number of queued items (not those being processed).
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// ShutDown stops the queue: pending delayed adds are dropped, Add does
// nothing, and Get returns false once the queued items are handed out.
func (q *Queue[T]) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutdown = true
	for t := range q.timers {
		t.Stop()
	}
	clear(q.timers)
	close(q.wake)
	q.wake = make(chan struct{})
}
