package store

import (
	"context"
	"testing"
)

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	s := openTest(t, cfg)
	w, err := s.Watch(ctx, []byte("a/"), 0)
	if err != nil {
		t.Fatal(err)
	}
	r1 := mustPut(t, s, "a/1", "x")
	r2 := mustPut(t, s, "a/1", "y")
	mustPut(t, s, "b/1", "z")
	r4 := mustDelete(t, s, "a/1")
	kv, err := s.Get(ctx, []byte("b/1"))
	t.Logf("revs %d %d %d; get %+v %v", r1, r2, r4, kv, err)
	for i := 0; i < 3; i++ {
		t.Logf("event %+v", nextEvent(t, w))
	}
	l, err := s.List(ctx, ListOptions{Revision: 2})
	t.Logf("list@2 %+v %v", l, err)
	s.Close()
	s2 := openTest(t, cfg)
	t.Logf("reopened rev %d", s2.Revision())
	w2, _ := s2.Watch(ctx, nil, 1)
	for i := 0; i < 3; i++ {
		t.Logf("replay %+v", nextEvent(t, w2))
	}
	if err := s2.Compact(ctx, 3); err != nil {
		t.Fatal(err)
	}
	l, err = s2.List(ctx, ListOptions{Revision: 3})
	t.Logf("list@3 %+v %v", l, err)
	_, err = s2.List(ctx, ListOptions{Revision: 2})
	t.Logf("list@2 %v", err)
}
