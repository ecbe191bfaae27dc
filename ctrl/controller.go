package ctrl

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/wask-dev/wask/client"
)

// ReconcileFunc converges the object named by key ("namespace/name", or
// "name" for cluster-scoped kinds) towards its desired state. It must be
// idempotent. An error re-queues the key with exponential back-off.
type ReconcileFunc func(ctx context.Context, key string) (Result, error)

// Result tells the Controller what to do after a successful reconcile.
type Result struct {
	// RequeueAfter, if positive, reconciles the key again after this long
	// (for time-based conditions: deadlines, TTLs, expiring leases).
	RequeueAfter time.Duration
}

// Controller works a queue of keys with a ReconcileFunc.
type Controller struct {
	name      string
	workers   int
	queue     *client.Queue[string]
	reconcile ReconcileFunc
	metrics   *Metrics
	log       *slog.Logger
}

// NewController returns a controller named name (used in metrics and logs)
// that runs workers goroutines (at least 1) calling fn.
func (e *Env) NewController(name string, workers int, fn ReconcileFunc) *Controller {
	c := &Controller{
		name:      name,
		workers:   max(workers, 1),
		queue:     client.NewQueue[string](client.QueueOptions{BaseDelay: 10 * time.Millisecond, MaxDelay: 10 * time.Second}),
		reconcile: fn,
		metrics:   e.Metrics,
		log:       e.Logger.With("controller", name),
	}
	c.metrics.trackQueue(name, c.queue.Len)
	return c
}

// Name returns the controller's name.
func (c *Controller) Name() string { return c.name }

// Enqueue queues key for a reconcile.
func (c *Controller) Enqueue(key string) { c.queue.Add(key) }

// EnqueueAfter queues key after d.
func (c *Controller) EnqueueAfter(key string, d time.Duration) { c.queue.AddAfter(key, d) }

// Len returns the number of keys waiting.
func (c *Controller) Len() int { return c.queue.Len() }

// Run works the queue until ctx ends, then returns nil after every worker
// has returned.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range c.workers {
		wg.Go(func() {
			for {
				key, ok := c.queue.Get(ctx)
				if !ok {
					return
				}
				c.process(ctx, key)
				c.queue.Done(key)
			}
		})
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
	c.metrics.untrackQueue(c.name)
	return nil
}

func (c *Controller) process(ctx context.Context, key string) {
	start := time.Now()
	res, err := c.safeReconcile(ctx, key)
	c.metrics.observe(c.name, time.Since(start), err)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		// A conflict (the object changed since it was read) is the normal
		// cost of optimistic concurrency: retried at once, not worth a warning.
		level := slog.LevelWarn
		if connect.CodeOf(err) == connect.CodeAborted {
			level = slog.LevelDebug
		}
		c.log.Log(ctx, level, "reconcile failed; retrying", "key", key, "err", err, "retries", c.queue.NumRequeues(key))
		c.queue.AddRateLimited(key)
		return
	}
	c.queue.Forget(key)
	if res.RequeueAfter > 0 {
		c.queue.AddAfter(key, res.RequeueAfter)
	}
}

// safeReconcile turns a panic in a reconcile into an error, so one bad
// object cannot stop every controller.
func (c *Controller) safeReconcile(ctx context.Context, key string) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return c.reconcile(ctx, key)
}

// Runnable is anything the manager runs: a Controller, or a controller
// with loops of its own.
type Runnable interface {
	Run(ctx context.Context) error
}
