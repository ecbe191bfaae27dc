package apiserver_test

import (
	"fmt"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

func names(items []*waskv1.Object) []string {
	var out []string
	for _, it := range items {
		out = append(out, metaOf(it).GetNamespace()+"/"+metaOf(it).GetName())
	}
	return out
}

func TestListSelectors(t *testing.T) {
	ts := newTestServer(t)
	ts.create(t, &waskv1.Object{Kind: &waskv1.Object_Namespace{Namespace: &waskv1.Namespace{Metadata: &waskv1.ObjectMeta{Name: "other"}}}})
	mk := func(ns, name string, labels map[string]string, node string) {
		p := testPod(name, labels)
		p.Metadata.Namespace = ns
		p.Spec.NodeName = node
		ts.create(t, podObj(p))
	}
	mk("default", "a", map[string]string{"app": "echo", "tier": "web"}, "node-1")
	mk("default", "b", map[string]string{"app": "echo", "tier": "db"}, "")
	mk("default", "c", map[string]string{"app": "other", "canary": "true"}, "node-2")
	mk("other", "d", map[string]string{"app": "echo"}, "")

	for _, tc := range []struct {
		ns, labels, fields string
		want               []string
	}{
		{"", "", "", []string{"default/a", "default/b", "default/c", "other/d"}},
		{"default", "", "", []string{"default/a", "default/b", "default/c"}},
		{"", "app=echo", "", []string{"default/a", "default/b", "other/d"}},
		{"", "app==echo,tier!=db", "", []string{"default/a", "other/d"}},
		{"", "tier in (web, db)", "", []string{"default/a", "default/b"}},
		{"", "app notin (echo)", "", []string{"default/c"}},
		{"", "canary", "", []string{"default/c"}},
		{"", "!canary,tier", "", []string{"default/a", "default/b"}},
		{"", "", "spec.nodeName=", []string{"default/b", "other/d"}},
		{"", "", "spec.nodeName!=,metadata.namespace=default", []string{"default/a", "default/c"}},
		{"", "app=echo", "metadata.name=d", []string{"other/d"}},
		{"", "", "status.phase=Pending", []string{"default/a", "default/b", "default/c", "other/d"}},
	} {
		t.Run(tc.labels+"|"+tc.fields, func(t *testing.T) {
			resp, err := ts.list(t, &waskv1.ListRequest{Kind: "Pod", Namespace: tc.ns, LabelSelector: tc.labels, FieldSelector: tc.fields})
			if err != nil {
				t.Fatal(err)
			}
			if got := names(resp.GetItems()); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []struct{ labels, fields string }{
		{"app in (", ""}, {"Bad Key=x", ""}, {"", "spec.module=x"}, {"", "nodeName"},
	} {
		_, err := ts.list(t, &waskv1.ListRequest{Kind: "Pod", LabelSelector: bad.labels, FieldSelector: bad.fields})
		wantCode(t, err, connect.CodeInvalidArgument)
	}
	_, err := ts.list(t, &waskv1.ListRequest{Kind: "Pods"})
	wantCode(t, err, connect.CodeInvalidArgument)
}

func TestListPaginationIsConsistentAcrossWrites(t *testing.T) {
	ts := newTestServer(t)
	for i := range 25 {
		labels := map[string]string{"even": fmt.Sprint(i%2 == 0)}
		ts.create(t, podObj(testPod(fmt.Sprintf("p%02d", i), labels)))
	}
	for _, selector := range []string{"", "even=true"} {
		t.Run("selector="+selector, func(t *testing.T) {
			snapshot, err := ts.list(t, &waskv1.ListRequest{Kind: "Pod", LabelSelector: selector})
			if err != nil {
				t.Fatal(err)
			}
			var got []*waskv1.Object
			req := &waskv1.ListRequest{Kind: "Pod", LabelSelector: selector, Limit: 4}
			pages := 0
			for {
				resp, err := ts.list(t, req)
				if err != nil {
					t.Fatal(err)
				}
				if len(resp.GetItems()) > 4 {
					t.Fatalf("page of %d items with limit 4", len(resp.GetItems()))
				}
				if resp.GetRevision() != snapshot.GetRevision() {
					t.Fatalf("page read at %s, want %s", resp.GetRevision(), snapshot.GetRevision())
				}
				got = append(got, resp.GetItems()...)
				pages++
				// Writes between pages must not show up in later pages.
				ts.create(t, podObj(testPod(fmt.Sprintf("z-%s-%d", map[string]string{"": "all", "even=true": "even"}[selector], pages), map[string]string{"even": "true"})))
				if _, err := ts.delete(t, &waskv1.DeleteRequest{Kind: "Pod", Name: fmt.Sprintf("p%02d", 24-pages)}); err != nil && connect.CodeOf(err) != connect.CodeNotFound {
					t.Fatal(err)
				}
				if resp.GetContinue() == "" {
					break
				}
				req = &waskv1.ListRequest{Kind: "Pod", LabelSelector: selector, Limit: 4, Continue: resp.GetContinue()}
			}
			if len(got) != len(snapshot.GetItems()) {
				t.Fatalf("pages gave %v, snapshot %v", names(got), names(snapshot.GetItems()))
			}
			for i := range got {
				if !proto.Equal(got[i], snapshot.GetItems()[i]) {
					t.Fatalf("item %d: %v, want %v", i, got[i], snapshot.GetItems()[i])
				}
			}
		})
	}
}

func TestListCompactedRevision(t *testing.T) {
	ts := newTestServer(t)
	for i := range 5 {
		ts.create(t, podObj(testPod(fmt.Sprintf("p%d", i), nil)))
	}
	first, err := ts.list(t, &waskv1.ListRequest{Kind: "Pod", Limit: 2})
	if err != nil || first.GetContinue() == "" {
		t.Fatalf("first page: %v %v", first, err)
	}
	ts.create(t, podObj(testPod("later", nil)))
	if err := ts.st.Compact(ctxT(t), ts.st.Revision()); err != nil {
		t.Fatal(err)
	}
	_, err = ts.list(t, &waskv1.ListRequest{Kind: "Pod", Limit: 2, Continue: first.GetContinue()})
	wantCode(t, err, connect.CodeOutOfRange)
	if d := compactedDetail(t, err); d.GetRequestedRevision() != first.GetRevision() || revOf(t, d.GetCompactedRevision()) != ts.st.CompactRevision() {
		t.Fatalf("detail %v", d)
	}
	_, err = ts.list(t, &waskv1.ListRequest{Kind: "Pod", Revision: first.GetRevision()})
	wantCode(t, err, connect.CodeOutOfRange)
	_, err = ts.list(t, &waskv1.ListRequest{Kind: "Pod", Revision: fmt.Sprint(ts.st.Revision() + 10)})
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = ts.list(t, &waskv1.ListRequest{Kind: "Pod", Continue: "garbage"})
	wantCode(t, err, connect.CodeInvalidArgument)
}
