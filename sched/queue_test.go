package sched

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock is a settable clock for the queue.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func popNames(t *testing.T, q *queue, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []string
	for range n {
		e := q.Pop(ctx)
		if e == nil {
			t.Fatalf("Pop: nothing after %v", out)
		}
		out = append(out, e.pod.GetMetadata().GetName())
		q.Done(e)
	}
	return out
}

func TestQueuePriorityThenFIFO(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	q := newQueue(time.Second, 10*time.Second, clock.Now)
	for _, p := range []struct {
		name string
		prio int32
	}{{"a", 0}, {"b", 5}, {"c", 0}, {"d", 5}, {"e", -1}} {
		q.Add(pod(p.name, priority(p.prio)), false)
		clock.Advance(time.Millisecond)
	}
	if diff := cmp.Diff([]string{"b", "d", "a", "c", "e"}, popNames(t, q, 5)); diff != "" {
		t.Errorf("pop order (-want +got):\n%s", diff)
	}
}

func TestQueueUnschedulableWaitsForAChange(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	q := newQueue(time.Second, 4*time.Second, clock.Now)
	q.Add(pod("p"), false)
	e := q.Pop(context.Background())
	q.Unschedulable(e)
	if a, b, u := q.Len(); a != 0 || b != 0 || u != 1 {
		t.Fatalf("after a failed attempt: active %d backoff %d unschedulable %d", a, b, u)
	}
	// Time alone does not retry it; a status-only update does not either.
	clock.Advance(time.Hour)
	q.Add(pod("p"), false)
	if _, _, u := q.Len(); u != 1 {
		t.Fatal("an update that does not matter retried the pod")
	}
	// A change of the cluster does, at once since its back-off passed.
	q.MoveAll()
	if a, _, _ := q.Len(); a != 1 {
		t.Fatal("MoveAll did not make the pod active")
	}
	e = q.Pop(context.Background())
	q.Unschedulable(e) // second failure: 2 s back-off
	q.MoveAll()
	if _, b, _ := q.Len(); b != 1 {
		t.Fatal("a pod within its back-off did not wait in backoff")
	}
	clock.Advance(2 * time.Second)
	if got := popNames(t, q, 1); got[0] != "p" {
		t.Fatal(got)
	}
}

func TestQueueChangeDuringAttempt(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	q := newQueue(time.Second, 4*time.Second, clock.Now)
	q.Add(pod("p"), false)
	e := q.Pop(context.Background())
	q.MoveAll() // e.g. a node joined while p was being scheduled
	q.Unschedulable(e)
	if _, b, u := q.Len(); b != 1 || u != 0 {
		t.Fatalf("a pod whose attempt raced a change was parked: backoff %d unschedulable %d", b, u)
	}
}

func TestQueueDeleteAndRequeue(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	q := newQueue(time.Second, 4*time.Second, clock.Now)
	q.Add(pod("gone"), false)
	q.Add(pod("kept"), false)
	q.Delete("default/gone")
	e := q.Pop(context.Background())
	if e.key != "default/kept" {
		t.Fatalf("popped %s", e.key)
	}
	q.Add(pod("kept"), true) // spec changed while in flight
	q.Done(e)
	if a, _, _ := q.Len(); a != 1 {
		t.Fatal("a pod changed during its attempt was not queued again")
	}
	e = q.Pop(context.Background())
	q.Delete(e.key) // deleted while in flight
	q.Unschedulable(e)
	if a, b, u := q.Len(); a+b+u != 0 || len(q.entries) != 0 {
		t.Fatalf("deleted pod still queued: %d %d %d %v", a, b, u, q.entries)
	}
}

func TestQueueBackoffTimerWakesPop(t *testing.T) {
	q := newQueue(20*time.Millisecond, time.Second, time.Now)
	q.Add(pod("p"), false)
	e := q.Pop(context.Background())
	q.Retry(e)
	start := time.Now()
	e = q.Pop(context.Background())
	if e == nil || time.Since(start) < 15*time.Millisecond {
		t.Fatalf("Pop returned %v after %v, before the back-off", e, time.Since(start))
	}
	q.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if q.Pop(ctx) != nil {
		t.Fatal("Pop on an empty queue with an ended context returned a pod")
	}
}

func timeAt(sec int64) time.Time { return time.Unix(1000+sec, 0) }
