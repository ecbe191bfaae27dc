package apiserver

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func validPod() *waskv1.Pod {
	return &waskv1.Pod{
		Metadata: &waskv1.ObjectMeta{Name: "web-1", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec:     &waskv1.PodSpec{Module: digest, Mode: "http-reactor", RestartPolicy: "Always"},
	}
}

func validDeployment() *waskv1.Deployment {
	return &waskv1.Deployment{
		Metadata: &waskv1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &waskv1.DeploymentSpec{
			Selector: &waskv1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: &waskv1.PodTemplateSpec{Metadata: &waskv1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: validPod().Spec},
			Strategy: &waskv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &waskv1.RollingUpdateDeployment{MaxSurge: "1", MaxUnavailable: "0"}},
		},
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  proto.Message
		// want is a substring of the error; "" means valid.
		want string
	}{
		{"valid pod", validPod(), ""},
		{"valid deployment", validDeployment(), ""},
		{"name", mutPod(func(p *waskv1.Pod) { p.Metadata.Name = "Web" }), `pod "Web": metadata.name: must be a DNS-1123 subdomain`},
		{"long name", mutPod(func(p *waskv1.Pod) { p.Metadata.Name = strings.Repeat("a", 254) }), "metadata.name: must be at most 253"},
		{"namespace", mutPod(func(p *waskv1.Pod) { p.Metadata.Namespace = "a.b" }), "metadata.namespace: must be a DNS-1123 label"},
		{"label key", mutPod(func(p *waskv1.Pod) { p.Metadata.Labels = map[string]string{"-x": "y"} }), "metadata.labels[-x]"},
		{"label value", mutPod(func(p *waskv1.Pod) { p.Metadata.Labels = map[string]string{"x": strings.Repeat("v", 64)} }), "metadata.labels[x]: must be at most 63"},
		{"apiVersion", mutPod(func(p *waskv1.Pod) { p.ApiVersion = "apps/v1" }), "apiVersion: must be"},
		{"kind", mutPod(func(p *waskv1.Pod) { p.Kind = "Node" }), "kind: must be \"Pod\""},
		{"module", mutPod(func(p *waskv1.Pod) { p.Spec.Module = "" }), `pod "web-1": spec.module: required`},
		{"module path", mutPod(func(p *waskv1.Pod) { p.Spec.Module = "./echo.wasm" }), "spec.module: must be a digest"},
		{"module digest", mutPod(func(p *waskv1.Pod) { p.Spec.Module = "sha256:abc" }), "spec.module: \"sha256:abc\" is not a digest"},
		{"mode", mutPod(func(p *waskv1.Pod) { p.Spec.Mode = "daemon" }), "spec.mode: must be one of"},
		{"restart", mutPod(func(p *waskv1.Pod) { p.Spec.RestartPolicy = "Sometimes" }), "spec.restartPolicy: must be one of"},
		{"env dup", mutPod(func(p *waskv1.Pod) { p.Spec.Env = []*waskv1.EnvVar{{Name: "A"}, {Name: "A"}} }), "spec.env[1].name: duplicate"},
		{"env name", mutPod(func(p *waskv1.Pod) { p.Spec.Env = []*waskv1.EnvVar{{Name: "1A"}} }), "spec.env[0].name"},
		{"quantity", mutPod(func(p *waskv1.Pod) {
			p.Spec.Resources = &waskv1.ResourceRequirements{Requests: map[string]string{"memory": "lots"}}
		}), "spec.resources.requests[memory]"},
		{"limit below request", mutPod(func(p *waskv1.Pod) {
			p.Spec.Resources = &waskv1.ResourceRequirements{Requests: map[string]string{"cpu": "1"}, Limits: map[string]string{"cpu": "500m"}}
		}), "spec.resources.limits[cpu]: 500m is less than the request 1"},
		{"timeout", mutPod(func(p *waskv1.Pod) {
			p.Spec.Resources = &waskv1.ResourceRequirements{Limits: map[string]string{"timeout": "5 seconds"}}
		}), "spec.resources.limits[timeout]"},
		{"timeout request", mutPod(func(p *waskv1.Pod) {
			p.Spec.Resources = &waskv1.ResourceRequirements{Requests: map[string]string{"timeout": "5s"}}
		}), "spec.resources.requests[timeout]: only allowed in limits"},
		{"unknown resource", mutPod(func(p *waskv1.Pod) {
			p.Spec.Resources = &waskv1.ResourceRequirements{Limits: map[string]string{"gpu": "1"}}
		}), "spec.resources.limits[gpu]: unknown resource"},
		{"toleration effect", mutPod(func(p *waskv1.Pod) {
			p.Spec.Tolerations = []*waskv1.Toleration{{Key: "k", Effect: "NoRun"}}
		}), "spec.tolerations[0].effect"},
		{"toleration exists value", mutPod(func(p *waskv1.Pod) {
			p.Spec.Tolerations = []*waskv1.Toleration{{Operator: "Exists", Value: "v"}}
		}), "spec.tolerations[0].value: must be empty"},
		{"mount", mutPod(func(p *waskv1.Pod) { p.Spec.Mounts = []*waskv1.Mount{{HostPath: "data", Path: "/data"}} }), "spec.mounts[0].hostPath: must be an absolute path"},
		{"probe in command mode", mutPod(func(p *waskv1.Pod) {
			p.Spec.Mode = "command"
			p.Spec.ReadinessProbe = &waskv1.Probe{HttpGet: &waskv1.HTTPGetAction{}}
		}), "spec.readinessProbe: only http-cgi and http-reactor"},
		{"probe path", mutPod(func(p *waskv1.Pod) { p.Spec.LivenessProbe = &waskv1.Probe{HttpGet: &waskv1.HTTPGetAction{Path: "x"}} }), "spec.livenessProbe.httpGet.path"},
		{"probe without action", mutPod(func(p *waskv1.Pod) { p.Spec.LivenessProbe = &waskv1.Probe{Period: "1s"} }), "spec.livenessProbe.httpGet: required (or call)"},
		{"probe with two actions", mutPod(func(p *waskv1.Pod) {
			p.Spec.LivenessProbe = &waskv1.Probe{HttpGet: &waskv1.HTTPGetAction{}, Call: &waskv1.CallAction{Export: "wask_health"}}
		}), "spec.livenessProbe.call: httpGet and call are exclusive"},
		{"probe call without export", mutPod(func(p *waskv1.Pod) { p.Spec.ReadinessProbe = &waskv1.Probe{Call: &waskv1.CallAction{}} }), "spec.readinessProbe.call.export: required"},
		{"grace", mutPod(func(p *waskv1.Pod) { p.Spec.TerminationGracePeriod = "-1s" }), "spec.terminationGracePeriod: must not be negative"},
		{"no selector", mutDeploy(func(d *waskv1.Deployment) { d.Spec.Selector = nil }), "spec.selector: required"},
		{"selector mismatch", mutDeploy(func(d *waskv1.Deployment) { d.Spec.Selector.MatchLabels["app"] = "db" }), "spec.selector: does not match spec.template.metadata.labels"},
		{"selector expression", mutDeploy(func(d *waskv1.Deployment) {
			d.Spec.Selector.MatchExpressions = []*waskv1.LabelSelectorRequirement{{Key: "app", Operator: "In"}}
		}), "spec.selector.matchExpressions[0].values: required"},
		{"replicas", mutDeploy(func(d *waskv1.Deployment) { r := int32(-1); d.Spec.Replicas = &r }), "spec.replicas: must not be negative"},
		{"strategy", mutDeploy(func(d *waskv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" }), "spec.strategy.type"},
		{"both zero", mutDeploy(func(d *waskv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = "0%" }), "maxSurge and maxUnavailable must not both be 0"},
		{"surge syntax", mutDeploy(func(d *waskv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = "one" }), "spec.strategy.rollingUpdate.maxSurge"},
		{"unavailable percent", mutDeploy(func(d *waskv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxUnavailable = "101%" }), "at most 100%"},
		{"template mode", mutDeploy(func(d *waskv1.Deployment) { d.Spec.Template.Spec.Mode = "" }), "spec.template.spec.mode: required"},
		{"service port", &waskv1.Service{Metadata: &waskv1.ObjectMeta{Name: "s", Namespace: "default"},
			Spec: &waskv1.ServiceSpec{Ports: []*waskv1.ServicePort{{Port: 70000}}}}, "spec.ports[0].port: must be 1 to 65535"},
		{"service port names", &waskv1.Service{Metadata: &waskv1.ObjectMeta{Name: "s", Namespace: "default"},
			Spec: &waskv1.ServiceSpec{Ports: []*waskv1.ServicePort{{Port: 80}, {Port: 81, Name: "b"}}}}, "spec.ports[0].name: required when there is more than one port"},
		{"service selector", &waskv1.Service{Metadata: &waskv1.ObjectMeta{Name: "s", Namespace: "default"},
			Spec: &waskv1.ServiceSpec{Selector: map[string]string{"app": "a b"}}}, "spec.selector[app]"},
		{"node taint", &waskv1.Node{Metadata: &waskv1.ObjectMeta{Name: "n"},
			Spec: &waskv1.NodeSpec{Taints: []*waskv1.Taint{{Key: "k"}}}}, "spec.taints[0].effect: required"},
		{"node namespace", &waskv1.Node{Metadata: &waskv1.ObjectMeta{Name: "n", Namespace: "default"}}, "metadata.namespace: must be empty"},
		{"node capacity", &waskv1.Node{Metadata: &waskv1.ObjectMeta{Name: "n"},
			Status: &waskv1.NodeStatus{Capacity: map[string]string{"memory": "8GB"}}}, "status.capacity[memory]"},
		{"namespace name", &waskv1.Namespace{Metadata: &waskv1.ObjectMeta{Name: "a.b"}}, "metadata.name: must be a DNS-1123 label"},
		{"lease", &waskv1.Lease{Metadata: &waskv1.ObjectMeta{Name: "l", Namespace: "default"}, Spec: &waskv1.LeaseSpec{LeaseDurationSeconds: -1}}, "spec.leaseDurationSeconds"},
		{"event", &waskv1.Event{Metadata: &waskv1.ObjectMeta{Name: "e", Namespace: "default"}, InvolvedObject: &waskv1.ObjectReference{Kind: "Thing", Name: "x"}}, "involvedObject.kind"},
		{"endpoints", &waskv1.Endpoints{Metadata: &waskv1.ObjectMeta{Name: "e", Namespace: "default"}, Ports: []*waskv1.EndpointPort{{Port: 0}}}, "ports[0].port"},
		{"module", &waskv1.Module{Metadata: &waskv1.ObjectMeta{Name: "m"}, Spec: &waskv1.ModuleSpec{Digest: "md5:x"}}, "spec.digest"},
		{"job restart", &waskv1.Job{Metadata: &waskv1.ObjectMeta{Name: "j", Namespace: "default"}, Spec: &waskv1.JobSpec{
			Selector: &waskv1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: &waskv1.PodTemplateSpec{Metadata: &waskv1.ObjectMeta{Labels: map[string]string{"a": "b"}}, Spec: &waskv1.PodSpec{Module: digest, Mode: "command", RestartPolicy: "Always"}},
		}}, "spec.template.spec.restartPolicy: must be \"OnFailure\" or \"Never\""},
		{"owner refs", mutPod(func(p *waskv1.Pod) {
			p.Metadata.OwnerReferences = []*waskv1.OwnerReference{{Kind: "ReplicaSet", Name: "a", Uid: "1", Controller: true}, {Kind: "ReplicaSet", Name: "b", Uid: "2", Controller: true}}
		}), "metadata.ownerReferences: at most one"},
		{"finalizer", mutPod(func(p *waskv1.Pod) { p.Metadata.Finalizers = []string{"a/b/c"} }), "metadata.finalizers[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := kinds[string(tc.obj.ProtoReflect().Descriptor().Name())]
			err := validate(k, tc.obj)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid object rejected: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("invalid object accepted, want %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func mutPod(f func(*waskv1.Pod)) *waskv1.Pod {
	p := validPod()
	f(p)
	return p
}

func mutDeploy(f func(*waskv1.Deployment)) *waskv1.Deployment {
	d := validDeployment()
	f(d)
	return d
}
