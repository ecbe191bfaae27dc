package nodelifecycle

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(0, 0)
	b := newBucket(2, 2, t0) // 2 a second, 2 saved
	for i := range 2 {
		if ok, _ := b.take(t0); !ok {
			t.Fatalf("take %d of the burst failed", i)
		}
	}
	ok, wait := b.take(t0)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("take past the burst = %v, %v; want false, 500ms", ok, wait)
	}
	if ok, _ := b.take(t0.Add(500 * time.Millisecond)); !ok {
		t.Fatal("no token after 500ms at 2/s")
	}
	if ok, _ := b.take(t0.Add(10 * time.Second)); !ok {
		t.Fatal("no token after 10s")
	}
	// Saved tokens are capped at the burst.
	b.take(t0.Add(10 * time.Second))
	if ok, _ := b.take(t0.Add(10 * time.Second)); ok {
		t.Fatal("more than the burst saved")
	}
}
