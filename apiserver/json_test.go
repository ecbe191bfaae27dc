package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/api/wask/v1/waskv1connect"
)

// TestConnectJSONOverPlainHTTP drives Create and Get as curl would: HTTP/1.1
// POSTs of Connect JSON, no generated client.
func TestConnectJSONOverPlainHTTP(t *testing.T) {
	ts := newTestServer(t)
	post := func(procedure, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(ts.url+"/wask.v1.ObjectService/"+procedure, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.ProtoMajor != 1 {
			t.Fatalf("HTTP/%d, want HTTP/1.1", resp.ProtoMajor)
		}
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		return resp.StatusCode, out
	}
	code, out := post("Create", `{"object": {"pod": {"metadata": {"name": "hello", "labels": {"app": "echo"}},
		"spec": {"module": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "mode": "http-reactor",
		"resources": {"limits": {"memory": "64Mi", "timeout": "5s"}}}}}}`)
	if code != http.StatusOK {
		t.Fatalf("create: %d %v", code, out)
	}
	pod := out["object"].(map[string]any)["pod"].(map[string]any)
	md := pod["metadata"].(map[string]any)
	if pod["apiVersion"] != "wask.dev/v1" || pod["kind"] != "Pod" || md["namespace"] != "default" || md["generation"] != "1" {
		t.Fatalf("created %v", pod)
	}
	if _, ok := md["revision"].(string); !ok {
		t.Fatalf("revision %v is not a string", md["revision"])
	}

	code, out = post("Get", `{"kind": "Pod", "namespace": "default", "name": "hello"}`)
	if code != http.StatusOK || out["object"].(map[string]any)["pod"].(map[string]any)["metadata"].(map[string]any)["uid"] != md["uid"] {
		t.Fatalf("get: %d %v", code, out)
	}

	code, out = post("Get", `{"kind": "Pod", "namespace": "default", "name": "nope"}`)
	if code != http.StatusNotFound || out["code"] != "not_found" || out["message"] != `pods "nope" not found in namespace "default"` {
		t.Fatalf("get missing: %d %v", code, out)
	}
	code, out = post("Create", `{"object": {"pod": {"metadata": {"name": "bad"}, "spec": {"mode": "command"}}}}`)
	if code != http.StatusBadRequest || out["code"] != "invalid_argument" || !strings.Contains(out["message"].(string), "spec.module: required") {
		t.Fatalf("create invalid: %d %v", code, out)
	}
}

// TestJSONClientsGetWholeObjects checks that List and Watch, which send
// objects pre-encoded, give Connect JSON clients the same objects as
// binary ones.
func TestJSONClientsGetWholeObjects(t *testing.T) {
	ts := newTestServer(t)
	start := ts.st.Revision()
	a := ts.create(t, podObj(testPod("a", map[string]string{"app": "echo"})))
	b := ts.create(t, podObj(testPod("b", nil)))
	jc := waskv1connect.NewObjectServiceClient(http.DefaultClient, ts.url, connect.WithProtoJSON())

	want, err := ts.list(t, &waskv1.ListRequest{Kind: "Pod"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := jc.List(ctxT(t), connect.NewRequest(&waskv1.ListRequest{Kind: "Pod"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(want.GetItems()) != 2 || !proto.Equal(got.Msg, want) {
		t.Fatalf("JSON list %v, binary list %v", got.Msg, want)
	}

	for _, req := range []*waskv1.WatchRequest{
		{Kind: "Pod", Revision: fmt.Sprint(start)},
		{Kind: "Pod", Revision: fmt.Sprint(start), LabelSelector: "app=echo"},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		stream, err := jc.Watch(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		wantObjs := []*waskv1.Object{a, b}
		if req.LabelSelector != "" {
			wantObjs = wantObjs[:1]
		}
		for _, obj := range wantObjs {
			if !stream.Receive() {
				t.Fatalf("watch %v ended: %v", req, stream.Err())
			}
			if ev := stream.Msg(); ev.GetType() != "ADDED" || !proto.Equal(ev.GetObject(), obj) {
				t.Fatalf("watch %v: got %v, want ADDED %v", req, ev, obj)
			}
		}
		cancel()
		stream.Close()
	}
}
