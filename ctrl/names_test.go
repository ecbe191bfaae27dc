package ctrl

import (
	"slices"
	"testing"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// cache is a PodGetter over a map.
type cache map[string]*waskv1.Pod

func (c cache) Get(ns, name string) (*waskv1.Object, bool) {
	p, ok := c[ns+"/"+name]
	if !ok {
		return nil, false
	}
	o, err := waskv1.Wrap(p)
	return o, err == nil
}

func TestFreePodNames(t *testing.T) {
	owner := &waskv1.ObjectMeta{Name: "web", Namespace: "ns", Uid: "u1"}
	mine := func(name string) *waskv1.Pod {
		return &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: name, Namespace: "ns", OwnerReferences: []*waskv1.OwnerReference{ControllerRef("ReplicaSet", owner)}}}
	}
	other := &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: "web-1", Namespace: "ns"}} // a user's pod
	c := cache{"ns/web-0": mine("web-0"), "ns/web-1": other, "ns/web-3": mine("web-3")}

	names, stale := FreePodNames(c, "ns", "web", "u1", []*waskv1.Pod{c["ns/web-0"], c["ns/web-3"]}, 3)
	if stale || !slices.Equal(names, []string{"web-2", "web-4", "web-5"}) {
		t.Fatalf("FreePodNames = %v, stale %v; want [web-2 web-4 web-5] (web-1 is someone else's)", names, stale)
	}
	// web-3 is in the cache but the caller did not count it: its count is
	// short, and creating now would make one pod too many.
	if names, stale := FreePodNames(c, "ns", "web", "u1", []*waskv1.Pod{c["ns/web-0"]}, 3); !stale {
		t.Fatalf("FreePodNames = %v, not stale, with an uncounted pod of the owner in the cache", names)
	}
}
