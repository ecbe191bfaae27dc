package wasmlet_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/wasmlet"
)

// A Go program embeds a node: it joins the cluster at the apiserver's URL
// with the cluster CA and the node join secret (what `wask server` writes),
// runs the pods bound to it until its context ends, and drains them first.
// Here the control plane runs in-process too (see
// example_controlplane_test.go).
func Example() {
	cp := startExampleControlPlane()
	defer cp.Stop()
	dataDir, _ := os.MkdirTemp("", "edge-1-")
	defer os.RemoveAll(dataDir)

	w, err := wasmlet.New(wasmlet.Config{
		Client:  client.Config{Server: cp.URL, CAData: cp.CA, Token: cp.JoinSecret},
		Name:    "edge-1",
		DataDir: dataDir,
		Labels:  map[string]string{"zone": "lab"},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	w.WaitStarted(ctx)

	cl, _ := client.New(client.Config{Server: cp.URL, CAData: cp.CA, Token: cp.JoinSecret, NodeName: "edge-1"})
	node, _ := client.Get[*waskv1.Node](ctx, cl, "", "edge-1")
	c := node.GetStatus().GetConditions()[0]
	fmt.Println(node.GetMetadata().GetName(), node.GetMetadata().GetLabels()["zone"], c.GetType()+"="+c.GetStatus())

	drainCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	w.Drain(drainCtx) // pods stop gracefully
	cancel()
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	// Output: edge-1 lab Ready=True
}
