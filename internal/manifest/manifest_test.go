package manifest

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

var update = flag.Bool("update", false, "rewrite golden files")

const deployment = `apiVersion: wask.dev/v1
kind: Deployment
metadata: {name: echo, namespace: default, labels: {app: echo}}
spec:
  replicas: 3
  selector: {matchLabels: {app: echo}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      module: ./echo.wasm
      mode: http-reactor
      env: [{name: GREETING, value: hi}]
      resources: {requests: {memory: 16Mi}, limits: {memory: 64Mi, timeout: 5s}}
      readinessProbe: {httpGet: {path: /healthz}}
---
apiVersion: wask.dev/v1
kind: Service
metadata: {name: echo, namespace: default}
spec: {selector: {app: echo}}
`

func TestDecodeArchitectureExample(t *testing.T) {
	objs, err := Decode(strings.NewReader(deployment), "deploy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 {
		t.Fatalf("got %d objects, want 2", len(objs))
	}
	d := objs[0].GetDeployment()
	if d == nil || d.GetSpec().GetReplicas() != 3 || d.GetSpec().GetStrategy().GetRollingUpdate().GetMaxSurge() != "1" ||
		d.GetSpec().GetStrategy().GetRollingUpdate().GetMaxUnavailable() != "0" ||
		d.GetSpec().GetTemplate().GetSpec().GetResources().GetLimits()["timeout"] != "5s" ||
		d.GetSpec().GetTemplate().GetSpec().GetReadinessProbe().GetHttpGet().GetPath() != "/healthz" {
		t.Fatalf("deployment decoded wrong: %v", d)
	}
	if s := objs[1].GetService(); s.GetSpec().GetSelector()["app"] != "echo" {
		t.Fatalf("service decoded wrong: %v", s)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unknown field with a suggestion", "apiVersion: wask.dev/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 3\n",
			`deploy.yaml:5: spec.replica: unknown field (did you mean "replicas"?)`},
		{"unknown nested field", "apiVersion: wask.dev/v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  module: m\n  env:\n  - name: A\n    vaule: b\n",
			`deploy.yaml:9: spec.env[0].vaule: unknown field (did you mean "value"?)`},
		{"wrong type", "apiVersion: wask.dev/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: three}\n",
			`deploy.yaml:4: spec.replicas: want a whole number, got "three"`},
		{"list expected", "apiVersion: wask.dev/v1\nkind: Pod\nmetadata: {name: x}\nspec: {args: hello}\n",
			`deploy.yaml:4: spec.args: want a list, got "hello"`},
		{"unknown kind", "apiVersion: wask.dev/v1\nkind: Gadget\n", `deploy.yaml:2: kind: unknown kind "Gadget"`},
		{"missing kind", "apiVersion: wask.dev/v1\nmetadata: {name: x}\n", "deploy.yaml:1: kind: required"},
		{"wrong apiVersion", "apiVersion: apps/v1\nkind: Deployment\n", `deploy.yaml:1: apiVersion: "apps/v1" is not supported; want "wask.dev/v1"`},
		{"duplicate field", "apiVersion: wask.dev/v1\nkind: Pod\nmetadata: {name: x}\nmetadata: {name: y}\n", "deploy.yaml:4: metadata: duplicate field"},
		{"bad timestamp", "apiVersion: wask.dev/v1\nkind: Pod\nmetadata: {name: x, creationTimestamp: yesterday}\n", `deploy.yaml:3: metadata.creationTimestamp: want an RFC 3339 time`},
		{"second document", "apiVersion: wask.dev/v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: wask.dev/v1\nkind: Namespace\nmetdata: {name: b}\n", `deploy.yaml:7: metdata: unknown field (did you mean "metadata"?)`},
		{"not yaml", "kind: [\n", "deploy.yaml: yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.doc), "deploy.yaml")
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Decode error = %v\nwant prefix    %s", err, tt.want)
			}
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error is %T, want *Error", err)
			}
		})
	}
}

func TestDecodeJSONAndList(t *testing.T) {
	doc := `{"apiVersion": "wask.dev/v1", "kind": "List", "items": [
  {"apiVersion": "wask.dev/v1", "kind": "Namespace", "metadata": {"name": "a"}},
  {"apiVersion": "wask.dev/v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"},
   "spec": {"module": "sha256:00", "mode": "command", "mounts": [{"hostPath": "/d", "path": "/", "readOnly": false}]}}
]}`
	objs, err := Decode(strings.NewReader(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].GetNamespace().GetMetadata().GetName() != "a" {
		t.Fatalf("decoded %v", objs)
	}
	m := objs[1].GetPod().GetSpec().GetMounts()[0]
	if m.ReadOnly == nil || *m.ReadOnly {
		t.Fatalf("readOnly: false must be explicitly false, got %v", m.ReadOnly)
	}
}

// TestEncodeRoundTrip encodes to YAML and JSON (golden files) and decodes
// the result back to the same objects.
func TestEncodeRoundTrip(t *testing.T) {
	objs, err := Decode(strings.NewReader(deployment), "deploy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs[0].GetDeployment().Metadata.Generation = 2
	objs[0].GetDeployment().Metadata.Revision = "17"
	for _, tt := range []struct {
		golden string
		encode func([]*waskv1.Object, bool) ([]byte, error)
	}{
		{"list.yaml", EncodeYAML},
		{"list.json", EncodeJSON},
	} {
		out, err := tt.encode(objs, true)
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", tt.golden)
		if *update {
			os.MkdirAll("testdata", 0o755)
			os.WriteFile(golden, out, 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create)", err)
		}
		if diff := cmp.Diff(string(want), string(out)); diff != "" {
			t.Errorf("%s (-golden +got):\n%s", tt.golden, diff)
		}
		back, err := Decode(bytes.NewReader(out), tt.golden)
		if err != nil {
			t.Fatalf("decode %s: %v", tt.golden, err)
		}
		if diff := cmp.Diff(normalized(t, objs), back, protocmp.Transform()); diff != "" {
			t.Errorf("%s round trip (-want +got):\n%s", tt.golden, diff)
		}
	}
	single, err := EncodeYAML(objs[1:], false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(single), "apiVersion: wask.dev/v1\nkind: Service\nmetadata:\n") {
		t.Errorf("single object YAML:\n%s", single)
	}
}

// normalized returns the objects as a manifest carries them: with
// apiVersion and kind set.
func normalized(t *testing.T, objs []*waskv1.Object) []*waskv1.Object {
	t.Helper()
	var out []*waskv1.Object
	for _, o := range objs {
		m, err := withTypeMeta(o)
		if err != nil {
			t.Fatal(err)
		}
		w, err := waskv1.Wrap(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, w)
	}
	return out
}
