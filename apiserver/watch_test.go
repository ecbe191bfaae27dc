package apiserver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

type watchClient struct {
	t      *testing.T
	stream *connect.ServerStreamForClient[waskv1.WatchEvent]
}

func (ts *testServer) watch(t *testing.T, req *waskv1.WatchRequest) *watchClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	stream, err := ts.client.Watch(ctx, connect.NewRequest(req))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		stream.Close()
	})
	return &watchClient{t: t, stream: stream}
}

// next returns the next event, failing the test if the stream ends (or
// its deadline passes) first.
func (w *watchClient) next() *waskv1.WatchEvent {
	w.t.Helper()
	if !w.stream.Receive() {
		w.t.Fatalf("watch ended: %v", w.stream.Err())
	}
	return w.stream.Msg()
}

// nextNonBookmark skips bookmarks.
func (w *watchClient) nextNonBookmark() *waskv1.WatchEvent {
	w.t.Helper()
	for {
		if ev := w.next(); ev.GetType() != "BOOKMARK" {
			return ev
		}
	}
}

func (w *watchClient) expect(typ, name string) *waskv1.WatchEvent {
	w.t.Helper()
	ev := w.nextNonBookmark()
	if ev.GetType() != typ || metaOf(ev.GetObject()).GetName() != name {
		w.t.Fatalf("got %s %s, want %s %s", ev.GetType(), metaOf(ev.GetObject()).GetName(), typ, name)
	}
	return ev
}

// end waits for the stream's end and returns its error.
func (w *watchClient) end() error {
	w.t.Helper()
	for w.stream.Receive() {
		if ev := w.stream.Msg(); ev.GetType() != "BOOKMARK" {
			w.t.Fatalf("unexpected event %v", ev)
		}
	}
	return w.stream.Err()
}

func TestWatchResumeFromRevision(t *testing.T) {
	ts := newTestServer(t)
	start := ts.st.Revision()
	a := ts.create(t, podObj(testPod("a", nil)))
	ts.create(t, podObj(testPod("b", nil)))
	relabeled := proto.Clone(a).(*waskv1.Object)
	relabeled.GetPod().Metadata.Labels = map[string]string{"x": "y"}
	a2, err := ts.update(t, relabeled)
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := ts.delete(t, &waskv1.DeleteRequest{Kind: "Pod", Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	// Another kind in between must not show up.
	ts.create(t, kindCases()[1].obj)

	w := ts.watch(t, &waskv1.WatchRequest{Kind: "Pod", Revision: fmt.Sprint(start)})
	if ev := w.expect("ADDED", "a"); !proto.Equal(ev.GetObject(), a) {
		t.Fatalf("ADDED carries %v, want %v", ev.GetObject(), a)
	}
	w.expect("ADDED", "b")
	if ev := w.expect("MODIFIED", "a"); !proto.Equal(ev.GetObject(), a2) {
		t.Fatalf("MODIFIED carries %v, want %v", ev.GetObject(), a2)
	}
	if ev := w.expect("DELETED", "b"); metaOf(ev.GetObject()).GetRevision() != metaOf(deleted).GetRevision() {
		t.Fatalf("DELETED at %s, want %s", metaOf(ev.GetObject()).GetRevision(), metaOf(deleted).GetRevision())
	}
	// Live events follow.
	ts.create(t, podObj(testPod("c", nil)))
	w.expect("ADDED", "c")

	// Resume from the middle: only later changes.
	w2 := ts.watch(t, &waskv1.WatchRequest{Kind: "Pod", Revision: metaOf(a2).GetRevision()})
	w2.expect("DELETED", "b")
	w2.expect("ADDED", "c")
}

func TestWatchCompacted(t *testing.T) {
	ts := newTestServer(t)
	start := ts.st.Revision()
	ts.create(t, podObj(testPod("a", nil)))
	ts.create(t, podObj(testPod("b", nil)))
	if err := ts.st.Compact(ctxT(t), ts.st.Revision()); err != nil {
		t.Fatal(err)
	}
	w := ts.watch(t, &waskv1.WatchRequest{Kind: "Pod", Revision: fmt.Sprint(start)})
	err := w.end()
	wantCode(t, err, connect.CodeOutOfRange)
	if msg := err.(*connect.Error).Message(); msg != "revision compacted" {
		t.Fatalf("message %q", msg)
	}
	if d := compactedDetail(t, err); revOf(t, d.GetRequestedRevision()) != start || revOf(t, d.GetCompactedRevision()) != ts.st.CompactRevision() {
		t.Fatalf("detail %v", d)
	}
	// Relist and watch from the list's revision: works.
	list, err := ts.list(t, &waskv1.ListRequest{Kind: "Pod"})
	if err != nil {
		t.Fatal(err)
	}
	w = ts.watch(t, &waskv1.WatchRequest{Kind: "Pod", Revision: list.GetRevision()})
	ts.create(t, podObj(testPod("c", nil)))
	w.expect("ADDED", "c")
}

func TestWatchSelectorTransitions(t *testing.T) {
	ts := newTestServer(t)
	// "a" matches at the start revision; "b" doesn't.
	a := ts.create(t, podObj(testPod("a", map[string]string{"app": "echo"})))
	b := ts.create(t, podObj(testPod("b", map[string]string{"app": "other"})))
	start := ts.st.Revision()
	w := ts.watch(t, &waskv1.WatchRequest{Kind: "Pod", LabelSelector: "app=echo", Revision: fmt.Sprint(start)})

	set := func(obj *waskv1.Object, app string) *waskv1.Object {
		t.Helper()
		c := proto.Clone(obj).(*waskv1.Object)
		c.GetPod().Metadata.Labels = map[string]string{"app": app}
		c.GetPod().Metadata.Revision = ""
		out, err := ts.update(t, c)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	set(b, "echo") // starts matching
	w.expect("ADDED", "b")
	set(a, "other") // stops matching: DELETED with its new state
	if ev := w.expect("DELETED", "a"); ev.GetObject().GetPod().GetMetadata().GetLabels()["app"] != "other" {
		t.Fatalf("DELETED carries %v", ev.GetObject())
	}
	set(a, "gone") // still not matching: nothing
	set(b, "echo2")
	w.expect("DELETED", "b")
	set(a, "echo")
	w.expect("ADDED", "a")
	if _, err := ts.delete(t, &waskv1.DeleteRequest{Kind: "Pod", Name: "a"}); err != nil {
		t.Fatal(err)
	}
	w.expect("DELETED", "a")

	// Field selectors follow the same rule: unbound pods.
	start = ts.st.Revision()
	wf := ts.watch(t, &waskv1.WatchRequest{Kind: "Pod", FieldSelector: "spec.nodeName=", Revision: fmt.Sprint(start)})
	ts.create(t, podObj(testPod("u", nil)))
	wf.expect("ADDED", "u")
	bind(t, ts, &waskv1.Binding{Name: "u", NodeName: "node-1"})
	wf.expect("DELETED", "u")
}

func TestWatchBookmarks(t *testing.T) {
	ts := newTestServer(t)
	start := ts.st.Revision()
	w := ts.watch(t, &waskv1.WatchRequest{Kind: "Pod", Revision: fmt.Sprint(start), AllowBookmarks: true})
	added := ts.create(t, podObj(testPod("a", nil)))
	// Writes of other kinds move the store past the pod; a bookmark says so.
	ts.create(t, &waskv1.Object{Kind: &waskv1.Object_Namespace{Namespace: &waskv1.Namespace{Metadata: &waskv1.ObjectMeta{Name: "n1"}}}})
	ns2 := ts.create(t, &waskv1.Object{Kind: &waskv1.Object_Namespace{Namespace: &waskv1.Namespace{Metadata: &waskv1.ObjectMeta{Name: "n2"}}}})

	w.expect("ADDED", "a")
	last := revOf(t, metaOf(added).GetRevision())
	for {
		ev := w.next()
		if ev.GetType() != "BOOKMARK" {
			t.Fatalf("unexpected %v", ev)
		}
		p := ev.GetObject().GetPod()
		rev := revOf(t, p.GetMetadata().GetRevision())
		if p.GetKind() != "Pod" || p.GetApiVersion() != "wask.dev/v1" || p.GetMetadata().GetName() != "" {
			t.Fatalf("bookmark object %v", p)
		}
		if rev <= last || rev > revOf(t, metaOf(ns2).GetRevision()) {
			t.Fatalf("bookmark at %d, want in (%d, %s]", rev, last, metaOf(ns2).GetRevision())
		}
		// Resuming from the bookmark skips nothing and repeats nothing.
		w2 := ts.watch(t, &waskv1.WatchRequest{Kind: "Pod", Revision: fmt.Sprint(rev)})
		ts.create(t, podObj(testPod("b", nil)))
		w2.expect("ADDED", "b")
		w.expect("ADDED", "b")
		return
	}
}
