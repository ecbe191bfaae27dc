package apiserver_test

import (
	"regexp"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// inner returns the message an Object carries.
func inner(obj *waskv1.Object) proto.Message {
	r := obj.ProtoReflect()
	fd := r.WhichOneof(r.Descriptor().Oneofs().ByName("kind"))
	return r.Get(fd).Message().Interface()
}

func metaOf(obj *waskv1.Object) *waskv1.ObjectMeta {
	r := inner(obj).ProtoReflect()
	return r.Get(r.Descriptor().Fields().ByName("metadata")).Message().Interface().(*waskv1.ObjectMeta)
}

func selected(app string) (*waskv1.LabelSelector, *waskv1.PodTemplateSpec) {
	return &waskv1.LabelSelector{MatchLabels: map[string]string{"app": app}},
		&waskv1.PodTemplateSpec{
			Metadata: &waskv1.ObjectMeta{Labels: map[string]string{"app": app}},
			Spec:     &waskv1.PodSpec{Module: testDigest, Mode: "http-reactor"},
		}
}

func int32p(v int32) *int32 { return &v }

// kindCases is one valid object of every kind, and a change of its desired
// state (nil where the spec is immutable or absent). Module is not here:
// only ModuleService.Push creates and updates Modules (modules_test.go
// covers them, with Get, List and Delete through ObjectService).
func kindCases() []struct {
	kind   string
	obj    *waskv1.Object
	mutate func(*waskv1.Object)
} {
	sel, tmpl := selected("web")
	jobTmpl := proto.Clone(tmpl).(*waskv1.PodTemplateSpec)
	jobTmpl.Spec.Mode, jobTmpl.Spec.RestartPolicy = "command", "Never"
	return []struct {
		kind   string
		obj    *waskv1.Object
		mutate func(*waskv1.Object)
	}{
		{"Namespace", &waskv1.Object{Kind: &waskv1.Object_Namespace{Namespace: &waskv1.Namespace{Metadata: &waskv1.ObjectMeta{Name: "team-a"}}}}, nil},
		{"Node", &waskv1.Object{Kind: &waskv1.Object_Node{Node: &waskv1.Node{Metadata: &waskv1.ObjectMeta{Name: "node-1"}}}},
			func(o *waskv1.Object) { o.GetNode().Spec = &waskv1.NodeSpec{Unschedulable: true} }},
		{"Lease", &waskv1.Object{Kind: &waskv1.Object_Lease{Lease: &waskv1.Lease{Metadata: &waskv1.ObjectMeta{Name: "node-1"}, Spec: &waskv1.LeaseSpec{HolderIdentity: "node-1", LeaseDurationSeconds: 40}}}},
			func(o *waskv1.Object) { o.GetLease().Spec.LeaseTransitions = 1 }},
		{"Pod", podObj(testPod("web-1", nil)), nil},
		{"ReplicaSet", &waskv1.Object{Kind: &waskv1.Object_ReplicaSet{ReplicaSet: &waskv1.ReplicaSet{Metadata: &waskv1.ObjectMeta{Name: "web"}, Spec: &waskv1.ReplicaSetSpec{Replicas: int32p(2), Selector: sel, Template: tmpl}}}},
			func(o *waskv1.Object) { o.GetReplicaSet().Spec.Replicas = int32p(3) }},
		{"Deployment", &waskv1.Object{Kind: &waskv1.Object_Deployment{Deployment: &waskv1.Deployment{Metadata: &waskv1.ObjectMeta{Name: "web"}, Spec: &waskv1.DeploymentSpec{Selector: sel, Template: tmpl}}}},
			func(o *waskv1.Object) { o.GetDeployment().Spec.Replicas = int32p(5) }},
		{"Job", &waskv1.Object{Kind: &waskv1.Object_Job{Job: &waskv1.Job{Metadata: &waskv1.ObjectMeta{Name: "batch"}, Spec: &waskv1.JobSpec{Template: jobTmpl}}}},
			func(o *waskv1.Object) { o.GetJob().Spec.Parallelism = int32p(4) }},
		{"Service", &waskv1.Object{Kind: &waskv1.Object_Service{Service: &waskv1.Service{Metadata: &waskv1.ObjectMeta{Name: "web"}, Spec: &waskv1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []*waskv1.ServicePort{{Port: 80}}}}}},
			func(o *waskv1.Object) { o.GetService().Spec.PathPrefix = "/web" }},
		{"Endpoints", &waskv1.Object{Kind: &waskv1.Object_Endpoints{Endpoints: &waskv1.Endpoints{Metadata: &waskv1.ObjectMeta{Name: "web"}, Addresses: []*waskv1.EndpointAddress{{PodName: "web-1", NodeName: "node-1"}}}}},
			func(o *waskv1.Object) { o.GetEndpoints().Addresses[0].Ready = true }},
		{"Event", &waskv1.Object{Kind: &waskv1.Object_Event{Event: &waskv1.Event{Metadata: &waskv1.ObjectMeta{Name: "web-1.1"}, InvolvedObject: &waskv1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1"}, Reason: "Scheduled", Type: "Normal"}}},
			func(o *waskv1.Object) { o.GetEvent().Count = 2 }},
	}
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCRUDEveryKind(t *testing.T) {
	ts := newTestServer(t)
	for _, tc := range kindCases() {
		t.Run(tc.kind, func(t *testing.T) {
			created := ts.create(t, tc.obj)
			md := metaOf(created)
			if !uuidRe.MatchString(md.GetUid()) || md.GetGeneration() != 1 || !md.GetCreationTimestamp().AsTime().Equal(testNow) || md.GetRevision() == "" {
				t.Fatalf("server-set metadata: %v", md)
			}
			wantNS := "default"
			if tc.kind == "Namespace" || tc.kind == "Node" {
				wantNS = ""
			}
			if md.GetNamespace() != wantNS {
				t.Fatalf("namespace %q, want %q", md.GetNamespace(), wantNS)
			}
			got, err := ts.get(t, tc.kind, wantNS, md.GetName())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(created, got, protocmp.Transform()); diff != "" {
				t.Fatalf("get differs from create (-create +get):\n%s", diff)
			}

			// A metadata change keeps the generation.
			relabeled := proto.Clone(got).(*waskv1.Object)
			metaOf(relabeled).Labels = map[string]string{"changed": "yes"}
			updated, err := ts.update(t, relabeled)
			if err != nil {
				t.Fatal(err)
			}
			if metaOf(updated).GetGeneration() != 1 || revOf(t, metaOf(updated).GetRevision()) <= revOf(t, md.GetRevision()) {
				t.Fatalf("after label update: %v", metaOf(updated))
			}
			// A spec change bumps it.
			if tc.mutate != nil {
				changed := proto.Clone(updated).(*waskv1.Object)
				tc.mutate(changed)
				updated, err = ts.update(t, changed)
				if err != nil {
					t.Fatal(err)
				}
				if g := metaOf(updated).GetGeneration(); g != 2 {
					t.Fatalf("generation %d after spec change, want 2", g)
				}
			}

			list, err := ts.list(t, &waskv1.ListRequest{Kind: tc.kind})
			if err != nil {
				t.Fatal(err)
			}
			if len(list.GetItems()) != 1 || !proto.Equal(list.GetItems()[0], updated) {
				t.Fatalf("list = %v, want just %v", list.GetItems(), updated)
			}

			deleted, err := ts.delete(t, &waskv1.DeleteRequest{Kind: tc.kind, Namespace: wantNS, Name: md.GetName()})
			if err != nil {
				t.Fatal(err)
			}
			if metaOf(deleted).GetUid() != md.GetUid() {
				t.Fatalf("delete returned %v", deleted)
			}
			_, err = ts.get(t, tc.kind, wantNS, md.GetName())
			wantCode(t, err, connect.CodeNotFound)
		})
	}
}

func TestCreateConflictsAndNamespaces(t *testing.T) {
	ts := newTestServer(t)
	ts.create(t, podObj(testPod("a", nil)))
	_, err := ts.client.Create(ctxT(t), connect.NewRequest(&waskv1.CreateRequest{Object: podObj(testPod("a", nil))}))
	wantCode(t, err, connect.CodeAlreadyExists)

	other := testPod("a", nil)
	other.Metadata.Namespace = "team-b"
	_, err = ts.client.Create(ctxT(t), connect.NewRequest(&waskv1.CreateRequest{Object: podObj(other)}))
	wantCode(t, err, connect.CodeNotFound) // namespace team-b doesn't exist

	ts.create(t, &waskv1.Object{Kind: &waskv1.Object_Namespace{Namespace: &waskv1.Namespace{Metadata: &waskv1.ObjectMeta{Name: "team-b"}}}})
	got := ts.create(t, podObj(other))
	if got.GetPod().GetMetadata().GetNamespace() != "team-b" || got.GetPod().GetStatus().GetPhase() != "Pending" {
		t.Fatalf("created %v", got)
	}

	// A terminating namespace accepts no new objects.
	ts.create(t, &waskv1.Object{Kind: &waskv1.Object_Namespace{Namespace: &waskv1.Namespace{Metadata: &waskv1.ObjectMeta{Name: "team-c", Finalizers: []string{"wask.dev/cleanup"}}}}})
	if _, err := ts.delete(t, &waskv1.DeleteRequest{Kind: "Namespace", Name: "team-c"}); err != nil {
		t.Fatal(err)
	}
	in := testPod("x", nil)
	in.Metadata.Namespace = "team-c"
	_, err = ts.client.Create(ctxT(t), connect.NewRequest(&waskv1.CreateRequest{Object: podObj(in)}))
	wantCode(t, err, connect.CodeFailedPrecondition)

	_, err = ts.get(t, "Pod", "default", "nope")
	wantCode(t, err, connect.CodeNotFound)
	if want := `pods "nope" not found in namespace "default"`; err.(*connect.Error).Message() != want {
		t.Fatalf("message %q, want %q", err.(*connect.Error).Message(), want)
	}
}

func TestCreateDiscardsStatusAndServerFields(t *testing.T) {
	ts := newTestServer(t)
	in := testPod("a", nil)
	in.Metadata.Uid = "mine"
	in.Metadata.Generation = 7
	in.Metadata.Revision = "99"
	in.Status = &waskv1.PodStatus{Phase: "Running"}
	got := ts.create(t, podObj(in)).GetPod()
	if got.GetMetadata().GetUid() == "mine" || got.GetMetadata().GetGeneration() != 1 || got.GetStatus().GetPhase() != "Pending" {
		t.Fatalf("created %v", got)
	}
	if got.GetApiVersion() != "wask.dev/v1" || got.GetKind() != "Pod" || got.GetSpec().GetRestartPolicy() != "Always" {
		t.Fatalf("type meta or defaults missing: %v", got)
	}
}

func TestUpdateConcurrency(t *testing.T) {
	ts := newTestServer(t)
	created := ts.create(t, podObj(testPod("a", nil)))

	first := proto.Clone(created).(*waskv1.Object)
	first.GetPod().Metadata.Labels = map[string]string{"v": "1"}
	if _, err := ts.update(t, first); err != nil {
		t.Fatal(err)
	}
	// The same stale revision again: Aborted.
	second := proto.Clone(created).(*waskv1.Object)
	second.GetPod().Metadata.Labels = map[string]string{"v": "2"}
	_, err := ts.update(t, second)
	wantCode(t, err, connect.CodeAborted)
	// Without a revision the update is unconditional.
	second.GetPod().Metadata.Revision = ""
	got, err := ts.update(t, second)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetPod().GetMetadata().GetLabels()["v"] != "2" {
		t.Fatalf("got %v", got)
	}
	// Immutable fields.
	bad := proto.Clone(got).(*waskv1.Object)
	bad.GetPod().Spec.Mode = "command"
	_, err = ts.update(t, bad)
	wantCode(t, err, connect.CodeInvalidArgument)
	bad = proto.Clone(got).(*waskv1.Object)
	bad.GetPod().Metadata.Uid = "other"
	_, err = ts.update(t, bad)
	wantCode(t, err, connect.CodeInvalidArgument)
	// Updating a missing object.
	missing := podObj(testPod("missing", nil))
	_, err = ts.update(t, missing)
	wantCode(t, err, connect.CodeNotFound)
}

func TestStatusVersusSpec(t *testing.T) {
	ts := newTestServer(t)
	sel, tmpl := selected("web")
	created := ts.create(t, &waskv1.Object{Kind: &waskv1.Object_Deployment{Deployment: &waskv1.Deployment{
		Metadata: &waskv1.ObjectMeta{Name: "web"}, Spec: &waskv1.DeploymentSpec{Replicas: int32p(2), Selector: sel, Template: tmpl}}}})

	// UpdateStatus changes only status, even if the request carries a spec change.
	withStatus := proto.Clone(created).(*waskv1.Object)
	withStatus.GetDeployment().Status = &waskv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2}
	withStatus.GetDeployment().Spec.Replicas = int32p(9)
	withStatus.GetDeployment().Metadata.Labels = map[string]string{"ignored": "yes"}
	resp, err := ts.client.UpdateStatus(ctxT(t), connect.NewRequest(&waskv1.UpdateStatusRequest{Object: withStatus}))
	if err != nil {
		t.Fatal(err)
	}
	d := resp.Msg.GetObject().GetDeployment()
	if d.GetStatus().GetReplicas() != 2 || d.GetSpec().GetReplicas() != 2 || d.GetMetadata().GetLabels() != nil || d.GetMetadata().GetGeneration() != 1 {
		t.Fatalf("after UpdateStatus: %v", d)
	}

	// Update changes spec and keeps the status, even if the request carries another.
	withSpec := proto.Clone(created).(*waskv1.Object) // stale revision: must fail
	withSpec.GetDeployment().Spec.Replicas = int32p(3)
	_, err = ts.update(t, withSpec)
	wantCode(t, err, connect.CodeAborted)
	withSpec.GetDeployment().Metadata.Revision = d.GetMetadata().GetRevision()
	withSpec.GetDeployment().Status = &waskv1.DeploymentStatus{Replicas: 42}
	got, err := ts.update(t, withSpec)
	if err != nil {
		t.Fatal(err)
	}
	if g := got.GetDeployment(); g.GetSpec().GetReplicas() != 3 || g.GetStatus().GetReplicas() != 2 || g.GetMetadata().GetGeneration() != 2 {
		t.Fatalf("after Update: %v", g)
	}

	// Kinds without status.
	lease := ts.create(t, kindCases()[2].obj)
	_, err = ts.client.UpdateStatus(ctxT(t), connect.NewRequest(&waskv1.UpdateStatusRequest{Object: lease}))
	wantCode(t, err, connect.CodeInvalidArgument)
}

func TestValidationErrorsNameTheField(t *testing.T) {
	ts := newTestServer(t)
	for _, tc := range []struct {
		name   string
		mutate func(*waskv1.Pod)
		want   string
	}{
		{"no module", func(p *waskv1.Pod) { p.Spec.Module = "" }, `pod "bad": spec.module: required`},
		{"bad mode", func(p *waskv1.Pod) { p.Spec.Mode = "daemon" }, `pod "bad": spec.mode: must be one of`},
		{"bad name", func(p *waskv1.Pod) { p.Metadata.Name = "Bad_Name" }, `metadata.name: must be a DNS-1123 subdomain`},
		{"bad memory", func(p *waskv1.Pod) {
			p.Spec.Resources = &waskv1.ResourceRequirements{Limits: map[string]string{"memory": "64Mb"}}
		}, `spec.resources.limits[memory]:`},
		{"wrong kind", func(p *waskv1.Pod) { p.Kind = "Node" }, `kind: must be "Pod"`},
		{"wrong apiVersion", func(p *waskv1.Pod) { p.ApiVersion = "v1" }, `apiVersion: must be "wask.dev/v1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPod("bad", nil)
			tc.mutate(p)
			_, err := ts.client.Create(ctxT(t), connect.NewRequest(&waskv1.CreateRequest{Object: podObj(p)}))
			wantCode(t, err, connect.CodeInvalidArgument)
			if msg := err.(*connect.Error).Message(); !regexp.MustCompile(regexp.QuoteMeta(tc.want)).MatchString(msg) {
				t.Fatalf("message %q does not contain %q", msg, tc.want)
			}
		})
	}
	list, err := ts.list(t, &waskv1.ListRequest{Kind: "Pod"})
	if err != nil || len(list.GetItems()) != 0 {
		t.Fatalf("invalid creates wrote something: %v %v", list, err)
	}
}
