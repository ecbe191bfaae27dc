package apiserver_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// TestMountsAdmittedByTheNode: a pod bound to a node may mount only what
// the node allows (status.capabilities.hostPaths), on create and on bind;
// the error names the field and the node.
func TestMountsAdmittedByTheNode(t *testing.T) {
	ts := newTestServer(t)
	for name, paths := range map[string][]string{"strict": nil, "dev": {"/srv"}} {
		created := ts.create(t, &waskv1.Object{Kind: &waskv1.Object_Node{Node: &waskv1.Node{Metadata: &waskv1.ObjectMeta{Name: name}}}})
		n := created.GetNode()
		n.Status = &waskv1.NodeStatus{Capabilities: &waskv1.NodeCapabilities{HostPaths: paths}}
		if _, err := ts.client.UpdateStatus(ctxT(t), connect.NewRequest(&waskv1.UpdateStatusRequest{Object: created})); err != nil {
			t.Fatal(err)
		}
	}
	mounting := func(name, node, host string) *waskv1.Pod {
		p := testPod(name, nil)
		p.Spec.NodeName = node
		p.Spec.Mounts = []*waskv1.Mount{{HostPath: host, Path: "/data"}}
		return p
	}
	_, err := ts.client.Create(ctxT(t), connect.NewRequest(&waskv1.CreateRequest{Object: podObj(mounting("a", "strict", "/srv/x"))}))
	wantCode(t, err, connect.CodeInvalidArgument)
	if err == nil || !strings.Contains(err.Error(), "spec.mounts[0].hostPath") || !strings.Contains(err.Error(), "node strict does not allow") {
		t.Errorf("error %v does not name the field and the node", err)
	}
	_, err = ts.client.Create(ctxT(t), connect.NewRequest(&waskv1.CreateRequest{Object: podObj(mounting("b", "dev", "/srv/../etc"))}))
	wantCode(t, err, connect.CodeInvalidArgument)
	ts.create(t, podObj(mounting("c", "dev", "/srv/x")))          // allowed
	ts.create(t, podObj(mounting("d", "not-yet-joined", "/etc"))) // unknown node: its wasmlet decides

	ts.create(t, podObj(mounting("e", "", "/srv/x")))
	results := bind(t, ts, &waskv1.Binding{Name: "e", NodeName: "strict"})
	if results[0].GetCode() != "invalid_argument" || !strings.Contains(results[0].GetMessage(), "spec.mounts[0].hostPath") {
		t.Errorf("bind to a node that does not allow the mount: %q %q", results[0].GetCode(), results[0].GetMessage())
	}
	if results = bind(t, ts, &waskv1.Binding{Name: "e", NodeName: "dev"}); results[0].GetCode() != "" {
		t.Errorf("bind to a node that allows the mount: %q %q", results[0].GetCode(), results[0].GetMessage())
	}
}
