package apiserver_test

import (
	"fmt"
	"sync"
	"testing"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

func bind(t *testing.T, ts *testServer, bs ...*waskv1.Binding) []*waskv1.BindResult {
	t.Helper()
	resp, err := ts.client.Bind(ctxT(t), connect.NewRequest(&waskv1.BindRequest{Bindings: bs}))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Msg.GetResults()) != len(bs) {
		t.Fatalf("%d results for %d bindings", len(resp.Msg.GetResults()), len(bs))
	}
	return resp.Msg.GetResults()
}

func TestBindManyInOneWrite(t *testing.T) {
	ts := newTestServer(t)
	var bs []*waskv1.Binding
	for i := range 10 {
		ts.create(t, podObj(testPod(fmt.Sprintf("p%d", i), nil)))
		bs = append(bs, &waskv1.Binding{Name: fmt.Sprintf("p%d", i), NodeName: "node-1"})
	}
	// One already bound, one missing, one duplicate, one stale revision, one bad node name.
	bind(t, ts, &waskv1.Binding{Name: "p3", NodeName: "node-2"})
	deleting := testPod("doomed", nil)
	deleting.Metadata.Finalizers = []string{"wask.dev/hold"}
	ts.create(t, podObj(deleting))
	if _, err := ts.delete(t, &waskv1.DeleteRequest{Kind: "Pod", Name: "doomed"}); err != nil {
		t.Fatal(err)
	}
	bs = append(bs,
		&waskv1.Binding{Name: "missing", NodeName: "node-1"},
		&waskv1.Binding{Name: "p0", NodeName: "node-3"},
		&waskv1.Binding{Name: "doomed", NodeName: "node-1"},
		&waskv1.Binding{Name: "p9x", NodeName: ""},
	)
	ts.create(t, podObj(testPod("stale", nil)))
	bs = append(bs, &waskv1.Binding{Name: "stale", NodeName: "node-1", Revision: "1"})

	before := ts.st.Revision()
	results := bind(t, ts, bs...)
	wantCodes := map[string]string{"p3": "failed_precondition", "missing": "not_found", "doomed": "failed_precondition", "p9x": "invalid_argument", "stale": "aborted"}
	var rev string
	for i, r := range results {
		want := wantCodes[r.GetName()]
		if i == 11 { // the duplicate p0
			want = "invalid_argument"
		}
		if r.GetCode() != want {
			t.Errorf("binding %d (%s): code %q (%s), want %q", i, r.GetName(), r.GetCode(), r.GetMessage(), want)
		}
		if want == "" {
			if rev == "" {
				rev = r.GetRevision()
			}
			if r.GetRevision() != rev {
				t.Errorf("binding %s at revision %s, others at %s: not one write", r.GetName(), r.GetRevision(), rev)
			}
		} else if r.GetRevision() != "" || r.GetMessage() == "" {
			t.Errorf("failed binding %d: %v", i, r)
		}
	}
	if got := ts.st.Revision(); got != before+1 {
		t.Fatalf("Bind made %d writes, want 1", got-before)
	}
	p, err := ts.get(t, "Pod", "default", "p5")
	if err != nil {
		t.Fatal(err)
	}
	pod := p.GetPod()
	if pod.GetSpec().GetNodeName() != "node-1" || len(pod.GetStatus().GetConditions()) != 1 ||
		pod.GetStatus().GetConditions()[0].GetType() != "PodScheduled" || pod.GetStatus().GetConditions()[0].GetStatus() != "True" ||
		pod.GetMetadata().GetRevision() != rev {
		t.Fatalf("bound pod %v", pod)
	}
	// Binding again fails.
	if r := bind(t, ts, &waskv1.Binding{Name: "p5", NodeName: "node-2"}); r[0].GetCode() != "failed_precondition" {
		t.Fatalf("double bind: %v", r[0])
	}
}

// TestBindRace has two binders bind the same pods to different nodes at
// once: every pod ends up bound exactly once, to the node whose Bind said so.
func TestBindRace(t *testing.T) {
	ts := newTestServer(t)
	const n = 20
	for i := range n {
		ts.create(t, podObj(testPod(fmt.Sprintf("p%d", i), nil)))
	}
	results := make([][]*waskv1.BindResult, 2)
	var wg sync.WaitGroup
	for b := range 2 {
		wg.Go(func() {
			var bs []*waskv1.Binding
			for i := range n {
				// Opposite orders, so the binders interleave.
				j := i
				if b == 1 {
					j = n - 1 - i
				}
				bs = append(bs, &waskv1.Binding{Name: fmt.Sprintf("p%d", j), NodeName: fmt.Sprintf("node-%d", b)})
			}
			resp, err := ts.client.Bind(ctxT(t), connect.NewRequest(&waskv1.BindRequest{Bindings: bs}))
			if err != nil {
				t.Error(err)
				return
			}
			results[b] = resp.Msg.GetResults()
		})
	}
	wg.Wait()
	boundBy := map[string]string{}
	for b, rs := range results {
		for _, r := range rs {
			switch r.GetCode() {
			case "":
				if prev, dup := boundBy[r.GetName()]; dup {
					t.Fatalf("pod %s bound by both binders (%s)", r.GetName(), prev)
				}
				boundBy[r.GetName()] = fmt.Sprintf("node-%d", b)
			case "failed_precondition":
			default:
				t.Fatalf("unexpected result %v", r)
			}
		}
	}
	if len(boundBy) != n {
		t.Fatalf("%d pods bound, want %d", len(boundBy), n)
	}
	for name, node := range boundBy {
		p, err := ts.get(t, "Pod", "default", name)
		if err != nil {
			t.Fatal(err)
		}
		if p.GetPod().GetSpec().GetNodeName() != node {
			t.Fatalf("pod %s on %q, Bind said %q", name, p.GetPod().GetSpec().GetNodeName(), node)
		}
	}
}
