package apiserver_test

import (
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

func TestDeletePreconditions(t *testing.T) {
	ts := newTestServer(t)
	created := ts.create(t, podObj(testPod("a", nil)))
	md := metaOf(created)
	_, err := ts.delete(t, &waskv1.DeleteRequest{Kind: "Pod", Name: "a", Preconditions: &waskv1.Preconditions{Uid: "someone-else"}})
	wantCode(t, err, connect.CodeAborted)
	relabeled := proto.Clone(created).(*waskv1.Object)
	relabeled.GetPod().Metadata.Labels = map[string]string{"v": "2"}
	if _, err := ts.update(t, relabeled); err != nil {
		t.Fatal(err)
	}
	_, err = ts.delete(t, &waskv1.DeleteRequest{Kind: "Pod", Name: "a", Preconditions: &waskv1.Preconditions{Revision: md.GetRevision()}})
	wantCode(t, err, connect.CodeAborted)
	if _, err := ts.delete(t, &waskv1.DeleteRequest{Kind: "Pod", Name: "a", Preconditions: &waskv1.Preconditions{Uid: md.GetUid()}}); err != nil {
		t.Fatal(err)
	}
	_, err = ts.delete(t, &waskv1.DeleteRequest{Kind: "Pod", Name: "a"})
	wantCode(t, err, connect.CodeNotFound)
}

func TestFinalizers(t *testing.T) {
	ts := newTestServer(t)
	sel, tmpl := selected("web")
	rs := &waskv1.ReplicaSet{Metadata: &waskv1.ObjectMeta{Name: "web", Finalizers: []string{"example.com/a", "example.com/b"}},
		Spec: &waskv1.ReplicaSetSpec{Selector: sel, Template: tmpl}}
	ts.create(t, &waskv1.Object{Kind: &waskv1.Object_ReplicaSet{ReplicaSet: rs}})

	marked, err := ts.delete(t, &waskv1.DeleteRequest{Kind: "ReplicaSet", Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if !metaOf(marked).GetDeletionTimestamp().AsTime().Equal(testNow) {
		t.Fatalf("delete returned %v, want a deletion timestamp", metaOf(marked))
	}
	// Deleting again is a no-op.
	again, err := ts.delete(t, &waskv1.DeleteRequest{Kind: "ReplicaSet", Name: "web"})
	if err != nil || !proto.Equal(again, marked) {
		t.Fatalf("second delete: %v %v", again, err)
	}
	// No spec changes while terminating.
	changed := proto.Clone(marked).(*waskv1.Object)
	changed.GetReplicaSet().Spec.Replicas = int32p(4)
	_, err = ts.update(t, changed)
	wantCode(t, err, connect.CodeFailedPrecondition)
	// Removing one finalizer keeps it.
	one := proto.Clone(marked).(*waskv1.Object)
	one.GetReplicaSet().Metadata.Finalizers = []string{"example.com/b"}
	one, err = ts.update(t, one)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.get(t, "ReplicaSet", "default", "web"); err != nil {
		t.Fatal(err)
	}
	// Removing the last one deletes it.
	last := proto.Clone(one).(*waskv1.Object)
	last.GetReplicaSet().Metadata.Finalizers = nil
	final, err := ts.update(t, last)
	if err != nil {
		t.Fatal(err)
	}
	if metaOf(final).GetDeletionTimestamp() == nil || len(metaOf(final).GetFinalizers()) != 0 {
		t.Fatalf("final state %v", metaOf(final))
	}
	_, err = ts.get(t, "ReplicaSet", "default", "web")
	wantCode(t, err, connect.CodeNotFound)

	// Foreground propagation adds its finalizer.
	ts.create(t, &waskv1.Object{Kind: &waskv1.Object_ReplicaSet{ReplicaSet: &waskv1.ReplicaSet{Metadata: &waskv1.ObjectMeta{Name: "fg"}, Spec: &waskv1.ReplicaSetSpec{Selector: sel, Template: tmpl}}}})
	fg, err := ts.delete(t, &waskv1.DeleteRequest{Kind: "ReplicaSet", Name: "fg", PropagationPolicy: "Foreground"})
	if err != nil {
		t.Fatal(err)
	}
	if f := metaOf(fg).GetFinalizers(); len(f) != 1 || f[0] != "wask.dev/foreground-deletion" || metaOf(fg).GetDeletionTimestamp() == nil {
		t.Fatalf("foreground delete: %v", metaOf(fg))
	}

	// Orphan propagation adds the finalizer the garbage collector removes.
	ts.create(t, &waskv1.Object{Kind: &waskv1.Object_ReplicaSet{ReplicaSet: &waskv1.ReplicaSet{Metadata: &waskv1.ObjectMeta{Name: "orph"}, Spec: &waskv1.ReplicaSetSpec{Selector: sel, Template: tmpl}}}})
	orph, err := ts.delete(t, &waskv1.DeleteRequest{Kind: "ReplicaSet", Name: "orph", PropagationPolicy: "Orphan"})
	if err != nil {
		t.Fatal(err)
	}
	if f := metaOf(orph).GetFinalizers(); len(f) != 1 || f[0] != "wask.dev/orphan" || metaOf(orph).GetDeletionTimestamp() == nil {
		t.Fatalf("orphan delete: %v", metaOf(orph))
	}
}

func TestDeleteBoundPodWaitsForNode(t *testing.T) {
	ts := newTestServer(t)
	ts.create(t, podObj(testPod("a", nil)))
	bind(t, ts, &waskv1.Binding{Name: "a", NodeName: "node-1"})
	marked, err := ts.delete(t, &waskv1.DeleteRequest{Kind: "Pod", Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if md := metaOf(marked); md.GetDeletionTimestamp() == nil || md.GetDeletionGracePeriodSeconds() != 30 {
		t.Fatalf("bound pod delete: %v", md)
	}
	// The node reports status meanwhile; that doesn't delete it.
	st := proto.Clone(marked).(*waskv1.Object)
	st.GetPod().Status.Phase = "Running"
	if _, err := ts.client.UpdateStatus(ctxT(t), connect.NewRequest(&waskv1.UpdateStatusRequest{Object: st})); err != nil {
		t.Fatal(err)
	}
	// The node's final delete, with grace 0.
	zero := int64(0)
	if _, err := ts.delete(t, &waskv1.DeleteRequest{Kind: "Pod", Name: "a", GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	_, err = ts.get(t, "Pod", "default", "a")
	wantCode(t, err, connect.CodeNotFound)
}
