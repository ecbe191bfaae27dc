package waskv1_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/testing/protocmp"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// deploymentJSON is the Deployment of ARCHITECTURE.md ("API") as JSON. The int-or-string values
// maxSurge and maxUnavailable are strings on the wire; the manifest decoder quotes unquoted YAML
// integers for string fields.
const deploymentJSON = `{
  "apiVersion": "wask.dev/v1",
  "kind": "Deployment",
  "metadata": {"name": "echo", "namespace": "default", "labels": {"app": "echo"}},
  "spec": {
    "replicas": 3,
    "selector": {"matchLabels": {"app": "echo"}},
    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "1", "maxUnavailable": "0"}},
    "template": {
      "metadata": {"labels": {"app": "echo"}},
      "spec": {
        "module": "./echo.wasm",
        "mode": "http-reactor",
        "env": [{"name": "GREETING", "value": "hi"}],
        "resources": {"requests": {"memory": "16Mi"}, "limits": {"memory": "64Mi", "timeout": "5s"}},
        "readinessProbe": {"httpGet": {"path": "/healthz"}}
      }
    }
  }
}`

const serviceJSON = `{
  "apiVersion": "wask.dev/v1",
  "kind": "Service",
  "metadata": {"name": "echo", "namespace": "default"},
  "spec": {"selector": {"app": "echo"}}
}`

func wantDeployment() *waskv1.Deployment {
	labels := map[string]string{"app": "echo"}
	return &waskv1.Deployment{
		ApiVersion: "wask.dev/v1",
		Kind:       "Deployment",
		Metadata:   &waskv1.ObjectMeta{Name: "echo", Namespace: "default", Labels: labels},
		Spec: &waskv1.DeploymentSpec{
			Replicas: proto.Int32(3),
			Selector: &waskv1.LabelSelector{MatchLabels: labels},
			Strategy: &waskv1.DeploymentStrategy{
				Type:          "RollingUpdate",
				RollingUpdate: &waskv1.RollingUpdateDeployment{MaxSurge: "1", MaxUnavailable: "0"},
			},
			Template: &waskv1.PodTemplateSpec{
				Metadata: &waskv1.ObjectMeta{Labels: labels},
				Spec: &waskv1.PodSpec{
					Module: "./echo.wasm",
					Mode:   "http-reactor",
					Env:    []*waskv1.EnvVar{{Name: "GREETING", Value: "hi"}},
					Resources: &waskv1.ResourceRequirements{
						Requests: map[string]string{"memory": "16Mi"},
						Limits:   map[string]string{"memory": "64Mi", "timeout": "5s"},
					},
					ReadinessProbe: &waskv1.Probe{HttpGet: &waskv1.HTTPGetAction{Path: "/healthz"}},
				},
			},
		},
	}
}

// TestManifestShape proves that the manifest form of objects is their protojson form, decoded
// strictly (unknown fields are errors).
func TestManifestShape(t *testing.T) {
	tests := []struct {
		name string
		json string
		got  proto.Message
		want proto.Message
	}{
		{"deployment", deploymentJSON, &waskv1.Deployment{}, wantDeployment()},
		{"service", serviceJSON, &waskv1.Service{}, &waskv1.Service{
			ApiVersion: "wask.dev/v1",
			Kind:       "Service",
			Metadata:   &waskv1.ObjectMeta{Name: "echo", Namespace: "default"},
			Spec:       &waskv1.ServiceSpec{Selector: map[string]string{"app": "echo"}},
		}},
		{"create request", `{"object": {"deployment": ` + deploymentJSON + `}}`, &waskv1.CreateRequest{},
			&waskv1.CreateRequest{Object: &waskv1.Object{Kind: &waskv1.Object_Deployment{Deployment: wantDeployment()}}}},
		{"get request", `{"kind": "Pod", "namespace": "default", "name": "hello"}`, &waskv1.GetRequest{},
			&waskv1.GetRequest{Kind: "Pod", Namespace: "default", Name: "hello"}},
		{"bookmark", `{"type": "BOOKMARK", "object": {"pod": {"apiVersion": "wask.dev/v1", "kind": "Pod", "metadata": {"revision": "42"}}}}`,
			&waskv1.WatchEvent{}, &waskv1.WatchEvent{
				Type: "BOOKMARK",
				Object: &waskv1.Object{Kind: &waskv1.Object_Pod{Pod: &waskv1.Pod{
					ApiVersion: "wask.dev/v1", Kind: "Pod", Metadata: &waskv1.ObjectMeta{Revision: "42"},
				}}},
			}},
		{"read-only mount", `{"mounts": [{"hostPath": "/srv/a", "path": "/a"}, {"hostPath": "/srv/b", "path": "/b", "readOnly": false}]}`,
			&waskv1.PodSpec{}, &waskv1.PodSpec{Mounts: []*waskv1.Mount{
				{HostPath: "/srv/a", Path: "/a"},
				{HostPath: "/srv/b", Path: "/b", ReadOnly: proto.Bool(false)},
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := (protojson.UnmarshalOptions{}).Unmarshal([]byte(tt.json), tt.got); err != nil {
				t.Fatalf("strict protojson decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, tt.got, protocmp.Transform()); diff != "" {
				t.Errorf("decoded object differs (-want +got):\n%s", diff)
			}
			// What the server prints decodes back to the same object (wask get -o json | wask apply).
			out, err := protojson.Marshal(tt.got)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			again := tt.got.ProtoReflect().New().Interface()
			if err := (protojson.UnmarshalOptions{}).Unmarshal(out, again); err != nil {
				t.Fatalf("decode of encoded %s: %v", out, err)
			}
			if diff := cmp.Diff(tt.got, again, protocmp.Transform()); diff != "" {
				t.Errorf("round trip differs (-first +second):\n%s", diff)
			}
		})
	}
}

func TestManifestUnknownFieldRejected(t *testing.T) {
	doc := strings.Replace(deploymentJSON, `"replicas": 3`, `"replica": 3`, 1)
	err := (protojson.UnmarshalOptions{}).Unmarshal([]byte(doc), &waskv1.Deployment{})
	if err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("decode with unknown field spec.replica: got error %v, want one naming the field", err)
	}
}

// TestKindsShape checks the conventions every kind follows, so that generic code (apply, the
// client, informers) can treat all kinds alike: each Object field is a kind whose message has
// api_version, kind, metadata as fields 1-3, spec and status (if any) as 4 and 5, and whose JSON
// name in Object is the kind in lowerCamelCase. And no enums anywhere: enum-like values are strings.
func TestKindsShape(t *testing.T) {
	oneof := (&waskv1.Object{}).ProtoReflect().Descriptor().Oneofs().ByName("kind")
	if oneof == nil {
		t.Fatal("Object has no oneof kind")
	}
	objectFields := (&waskv1.Object{}).ProtoReflect().Descriptor().Fields()
	if oneof.Fields().Len() != objectFields.Len() {
		t.Errorf("Object has fields outside its oneof kind")
	}
	wantKinds := []string{"Namespace", "Node", "Lease", "Pod", "ReplicaSet", "Deployment", "Job", "Service", "Endpoints", "Module", "Event"}
	var gotKinds []string
	for i := 0; i < oneof.Fields().Len(); i++ {
		f := oneof.Fields().Get(i)
		m := f.Message()
		kind := string(m.Name())
		gotKinds = append(gotKinds, kind)
		if want := strings.ToLower(kind[:1]) + kind[1:]; f.JSONName() != want {
			t.Errorf("Object.%s: JSON name %q, want %q", f.Name(), f.JSONName(), want)
		}
		for _, want := range []struct {
			num      protoreflect.FieldNumber
			name     string
			jsonName string
			message  string
		}{
			{1, "api_version", "apiVersion", ""},
			{2, "kind", "kind", ""},
			{3, "metadata", "metadata", "wask.v1.ObjectMeta"},
			{4, "spec", "spec", "wask.v1." + kind + "Spec"}, // Endpoints and Event have neither
			{5, "status", "status", "wask.v1." + kind + "Status"},
		} {
			fd := m.Fields().ByName(protoreflect.Name(want.name))
			if fd == nil {
				if want.num <= 3 {
					t.Errorf("%s: no field %s", kind, want.name)
				}
				continue // spec and status are there where the kind has them
			}
			if fd.Number() != want.num || fd.JSONName() != want.jsonName {
				t.Errorf("%s.%s: number %d (json %q), want %d (json %q)", kind, fd.Name(), fd.Number(), fd.JSONName(), want.num, want.jsonName)
			}
			if want.message == "" && fd.Kind() != protoreflect.StringKind {
				t.Errorf("%s.%s: %v, want string", kind, fd.Name(), fd.Kind())
			}
			if want.message != "" && (fd.Message() == nil || string(fd.Message().FullName()) != want.message) {
				t.Errorf("%s.%s: want message %s", kind, fd.Name(), want.message)
			}
		}
	}
	if diff := cmp.Diff(wantKinds, gotKinds); diff != "" {
		t.Errorf("kinds in Object (-want +got):\n%s", diff)
	}

	files := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("wask.v1", func(fd protoreflect.FileDescriptor) bool {
		files++
		if fd.Enums().Len() > 0 {
			t.Errorf("%s declares enums; enum-like values must be strings", fd.Path())
		}
		for i := 0; i < fd.Messages().Len(); i++ {
			if fd.Messages().Get(i).Enums().Len() > 0 {
				t.Errorf("%s declares enums in %s; enum-like values must be strings", fd.Path(), fd.Messages().Get(i).Name())
			}
		}
		return true
	})
	if files == 0 {
		t.Error("no files of package wask.v1 registered")
	}
}
