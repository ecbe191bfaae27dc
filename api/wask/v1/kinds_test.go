package waskv1_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

func TestKinds(t *testing.T) {
	for _, k := range waskv1.Kinds() {
		for _, name := range append([]string{k.Kind, k.Plural}, k.ShortNames...) {
			got, ok := waskv1.LookupKind(name)
			if !ok || got.Kind != k.Kind {
				t.Errorf("LookupKind(%q) = %v, %v; want %s", name, got.Kind, ok, k.Kind)
			}
		}
		m := k.New()
		if got, ok := waskv1.KindOf(m); !ok || got.Kind != k.Kind {
			t.Errorf("KindOf(New()) for %s = %v", k.Kind, got.Kind)
		}
		o, err := waskv1.Wrap(m)
		if err != nil {
			t.Fatalf("Wrap(%s): %v", k.Kind, err)
		}
		if info, ok := o.Info(); !ok || info.Kind != k.Kind || !proto.Equal(o.Unwrap(), m) {
			t.Errorf("Wrap/Unwrap round trip of %s failed", k.Kind)
		}
	}
	if _, ok := waskv1.LookupKind("gadgets"); ok {
		t.Error("LookupKind(gadgets) succeeded")
	}
	if _, err := waskv1.Wrap(&waskv1.PodSpec{}); err == nil {
		t.Error("Wrap(PodSpec) succeeded")
	}
}

func TestWrapPod(t *testing.T) {
	pod := &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: "hello", Namespace: "default"}}
	o, err := waskv1.Wrap(pod)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&waskv1.Object{Kind: &waskv1.Object_Pod{Pod: pod}}, o, protocmp.Transform()); diff != "" {
		t.Fatalf("Wrap (-want +got):\n%s", diff)
	}
	if o.Metadata().GetName() != "hello" {
		t.Fatalf("Metadata().Name = %q", o.Metadata().GetName())
	}
	var empty *waskv1.Object
	if empty.Unwrap() != nil || empty.Metadata() != nil {
		t.Fatal("nil Object unwraps to something")
	}
}
