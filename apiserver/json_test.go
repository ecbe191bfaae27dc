package apiserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
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
