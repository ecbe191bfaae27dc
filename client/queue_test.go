package client

import (
	"context"
	"sync"
	"testing"
	"time"
)

func get(t *testing.T, q *Queue[string]) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	item, ok := q.Get(ctx)
	if !ok {
		t.Fatal("Get returned nothing")
	}
	return item
}

func TestQueueDeduplicates(t *testing.T) {
	q := NewQueue[string](QueueOptions{})
	q.Add("a")
	q.Add("b")
	q.Add("a")
	if q.Len() != 2 {
		t.Fatalf("Len = %d, want 2", q.Len())
	}
	if got := get(t, q); got != "a" {
		t.Fatalf("first = %q, want a (FIFO)", got)
	}
	// Added while a worker holds it: not handed out again until Done.
	q.Add("a")
	if got := get(t, q); got != "b" {
		t.Fatalf("second = %q, want b", got)
	}
	if q.Len() != 0 {
		t.Fatalf("a was re-queued while processing: Len = %d", q.Len())
	}
	q.Done("a")
	if got := get(t, q); got != "a" {
		t.Fatalf("after Done = %q, want a again", got)
	}
	q.Done("a")
	q.Done("b")
	if q.Len() != 0 {
		t.Fatalf("Len = %d, want 0", q.Len())
	}
}

func TestQueueNeverConcurrentOnOneItem(t *testing.T) {
	q := NewQueue[string](QueueOptions{})
	var mu sync.Mutex
	busy := map[string]bool{}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	handled := make(chan struct{}, 1000)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				item, ok := q.Get(ctx)
				if !ok {
					return
				}
				mu.Lock()
				if busy[item] {
					t.Errorf("%s handed to two workers", item)
				}
				busy[item] = true
				mu.Unlock()
				mu.Lock()
				busy[item] = false
				mu.Unlock()
				q.Done(item)
				handled <- struct{}{}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		q.Add([]string{"x", "y", "z"}[i%3])
	}
	<-handled // at least one handled; the rest may be coalesced
	q.ShutDown()
	wg.Wait()
}

func TestQueueRateLimited(t *testing.T) {
	q := NewQueue[string](QueueOptions{BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond})
	for i, want := range []time.Duration{1, 2, 4, 4} {
		if got := backoff(q.opts.BaseDelay, q.opts.MaxDelay, i); got != want*time.Millisecond {
			t.Errorf("backoff after %d failures = %v, want %v", i, got, want*time.Millisecond)
		}
	}
	q.AddRateLimited("a")
	q.AddRateLimited("a")
	if q.NumRequeues("a") != 2 {
		t.Fatalf("NumRequeues = %d, want 2", q.NumRequeues("a"))
	}
	if got := get(t, q); got != "a" {
		t.Fatalf("got %q", got)
	}
	q.Done("a")
	q.Forget("a")
	if q.NumRequeues("a") != 0 {
		t.Fatalf("NumRequeues after Forget = %d", q.NumRequeues("a"))
	}
}

func TestQueueShutDown(t *testing.T) {
	q := NewQueue[string](QueueOptions{})
	q.Add("a")
	q.AddAfter("later", time.Hour)
	q.ShutDown()
	q.Add("b")
	if got := get(t, q); got != "a" {
		t.Fatalf("queued item lost at shutdown: %q", got)
	}
	if _, ok := q.Get(context.Background()); ok {
		t.Fatal("Get after shutdown and drain returned an item")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q2 := NewQueue[string](QueueOptions{})
	if _, ok := q2.Get(ctx); ok {
		t.Fatal("Get with a done context returned an item")
	}
}
