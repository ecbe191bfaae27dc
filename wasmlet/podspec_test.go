package wasmlet

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/wasmlet/sandbox"
)

func TestParseQuantity(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"64Mi", 64 << 20, true}, {"1Gi", 1 << 30, true}, {"2", 2, true}, {"1.5Ki", 1536, true},
		{"1k", 1000, true}, {"500m", 1, true}, {"3M", 3e6, true},
		{"", 0, false}, {"Mi", 0, false}, {"12Xi", 0, false},
	}
	for _, tt := range tests {
		got, err := parseQuantity(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseQuantity(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestOutboundOnlyToListedServices(t *testing.T) {
	var called []string
	w := &Wasmlet{cfg: Config{Outbound: func(_ context.Context, ns, pod string, req *http.Request) (*http.Response, error) {
		called = append(called, ns+"/"+pod+"->"+req.URL.Host)
		return &http.Response{StatusCode: 200}, nil
	}}}
	out := w.outbound("shop", "web-1", []*waskv1.OutboundService{{Service: "cart"}, {Service: "auth", Namespace: "sec"}})
	for _, tt := range []struct {
		host string
		ok   bool
	}{
		{"cart", true}, {"cart.shop", true}, {"cart:8080", true}, {"auth.sec", true},
		{"auth", false}, {"payments", false}, {"cart.other", false},
	} {
		req, _ := http.NewRequest("GET", "http://"+tt.host+"/x", nil)
		_, err := out(context.Background(), req)
		if (err == nil) != tt.ok {
			t.Errorf("call to %s: err %v, want allowed=%v", tt.host, err, tt.ok)
		}
	}
	if len(called) != 4 {
		t.Errorf("the mesh got %d calls, want 4: %v", len(called), called)
	}
	w.cfg.Outbound = nil
	req, _ := http.NewRequest("GET", "http://cart/", nil)
	if _, err := out(context.Background(), req); !errors.Is(err, errNoOutbound) {
		t.Errorf("without a mesh: err %v, want errNoOutbound", err)
	}
}

func TestSandboxSpecGrantsOnlyTheSpec(t *testing.T) {
	w := &Wasmlet{cfg: Config{Name: "n1", AllowedHostPaths: []string{"/srv"}}}
	ro := false
	pod := &waskv1.Pod{
		Metadata: &waskv1.ObjectMeta{Name: "p", Namespace: "shop"},
		Spec: &waskv1.PodSpec{
			Args:      []string{"a"},
			Env:       []*waskv1.EnvVar{{Name: "A", Value: "1"}, {Name: "WASK_POD_NAME", Value: "spoofed"}},
			Resources: &waskv1.ResourceRequirements{Limits: map[string]string{"memory": "64Mi", "timeout": "2s"}},
			Mounts:    []*waskv1.Mount{{HostPath: "/srv/data", Path: "/data"}, {HostPath: "/srv/tmp", Path: "/tmp", ReadOnly: &ro}},
		},
	}
	s, err := w.sandboxSpec(pod, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "WASK_POD_NAME": "p", "WASK_NAMESPACE": "shop", "WASK_NODE_NAME": "n1"}
	if diff := cmp.Diff(want, s.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if s.MemoryLimit != 64<<20 || s.Timeout != 2*time.Second || s.Clock || s.Random || len(s.Args) != 1 {
		t.Errorf("spec = %+v", s)
	}
	wantMounts := []sandbox.Mount{{HostPath: "/srv/data", GuestPath: "/data", ReadOnly: true}, {HostPath: "/srv/tmp", GuestPath: "/tmp"}}
	if diff := cmp.Diff(wantMounts, s.Mounts); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	pod.Spec.DownwardEnv = new(false)
	if s, _ := w.sandboxSpec(pod, nil); !cmp.Equal(s.Env, map[string]string{"A": "1", "WASK_POD_NAME": "spoofed"}) {
		t.Errorf("downwardEnv false: env %v, want exactly spec.env", s.Env)
	}
	pod.Spec.DownwardEnv = nil
	pod.Spec.Capabilities = &waskv1.PodCapabilities{Clock: true, Random: true}
	if s, _ := w.sandboxSpec(pod, nil); !s.Clock || !s.Random {
		t.Errorf("capabilities not granted: clock %v random %v", s.Clock, s.Random)
	}
	pod.Spec.Mounts = []*waskv1.Mount{{HostPath: "/etc", Path: "/etc"}}
	var se *specError
	if _, err := w.sandboxSpec(pod, nil); !errors.As(err, &se) || se.Reason != "MountNotAllowed" {
		t.Errorf("mount of /etc: %v, want MountNotAllowed", err)
	}
}
