package namespace_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
	"github.com/wask-dev/wask/ctrl/ctrltest"
	"github.com/wask-dev/wask/ctrl/gc"
	"github.com/wask-dev/wask/ctrl/namespace"
	"github.com/wask-dev/wask/ctrl/replicaset"
	"github.com/wask-dev/wask/internal/testcluster"
)

func TestDeletingANamespaceDeletesEverythingInIt(t *testing.T) {
	cl := testcluster.Start(t, testcluster.Options{})
	h := ctrltest.Start(t, cl.Client, func(n string) *client.Client { return cl.NodeClient(t, n) }, ctrltest.Options{
		Controllers: []func(*ctrl.Env) ctrl.Runnable{
			func(env *ctrl.Env) ctrl.Runnable { return namespace.New(env, namespace.Options{}) },
			func(env *ctrl.Env) ctrl.Runnable { return replicaset.New(env, replicaset.Options{}) },
			func(env *ctrl.Env) ctrl.Runnable { return gc.New(env, gc.Options{}) },
		},
		Nodes:  []ctrltest.NodeConfig{{Name: "n1", StopDelay: 200 * time.Millisecond}},
		Binder: true,
	})
	ctx := h.Ctx()
	if _, err := client.Create(ctx, h.Admin, &waskv1.Namespace{Metadata: &waskv1.ObjectMeta{Name: "team"}}); err != nil {
		t.Fatal(err)
	}
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		ns, err := client.Get[*waskv1.Namespace](ctx, h.Admin, "", "team")
		return len(ns.GetMetadata().GetFinalizers()) == 1 && ns.GetMetadata().GetFinalizers()[0] == namespace.Finalizer, fmt.Sprint(ns.GetMetadata(), err)
	})
	labels := map[string]string{"app": "web"}
	objs := []proto.Message{
		&waskv1.ReplicaSet{Metadata: &waskv1.ObjectMeta{Name: "web", Namespace: "team"}, Spec: &waskv1.ReplicaSetSpec{Replicas: proto.Int32(3), Selector: &waskv1.LabelSelector{MatchLabels: labels}, Template: ctrltest.Template(labels)}},
		&waskv1.Service{Metadata: &waskv1.ObjectMeta{Name: "web", Namespace: "team"}, Spec: &waskv1.ServiceSpec{Selector: labels}},
		&waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: "loose", Namespace: "team"}, Spec: ctrltest.Template(nil).GetSpec()},
	}
	for _, o := range objs {
		if _, err := client.Create(ctx, h.Admin, o); err != nil {
			t.Fatal(err)
		}
	}
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		n := 0
		for _, p := range h.Pods(ctx, "team", "") {
			if ctrl.PodReady(p) {
				n++
			}
		}
		return n == 4, fmt.Sprintf("%d ready pods", n)
	})
	if _, err := cl.Client.Objects.Delete(ctx, connect.NewRequest(&waskv1.DeleteRequest{Kind: "Namespace", Name: "team"})); err != nil {
		t.Fatal(err)
	}
	// Terminating: nothing new may be created.
	if _, err := client.Create(ctx, h.Admin, &waskv1.Service{Metadata: &waskv1.ObjectMeta{Name: "late", Namespace: "team"}}); err == nil {
		t.Error("created a service in a terminating namespace")
	}
	h.Eventually(10*time.Second, func(ctx context.Context) (bool, string) {
		_, err := client.Get[*waskv1.Namespace](ctx, h.Admin, "", "team")
		return connect.CodeOf(err) == connect.CodeNotFound, fmt.Sprint(err)
	})
	for _, k := range waskv1.Kinds() {
		if !k.Namespaced {
			continue
		}
		resp, err := cl.Client.Objects.List(ctx, connect.NewRequest(&waskv1.ListRequest{Kind: k.Kind, Namespace: "team"}))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range resp.Msg.GetItems() {
			t.Errorf("left in the deleted namespace: %s %s", k.Kind, o.Metadata().GetName())
		}
	}
}
