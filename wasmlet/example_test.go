package wasmlet_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/wasmlet"
)

// A Go program embeds a node: it joins the cluster at the apiserver's URL
// with the cluster CA and the node join secret, runs the pods bound to it
// until interrupted, then drains them.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	w, err := wasmlet.New(wasmlet.Config{
		Client: client.Config{
			Server: "https://127.0.0.1:7070",
			CA:     "/var/lib/wask/pki/ca.crt",
			Token:  os.Getenv("WASK_JOIN_SECRET"),
		},
		Name:    "edge-1",
		DataDir: "/var/lib/wask-node",
		Labels:  map[string]string{"zone": "lab"},
	})
	if err != nil {
		log.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	<-ctx.Done()
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelDrain()
	w.Drain(drainCtx) // pods stop gracefully
	cancel()
	if err := <-done; err != nil {
		log.Fatal(err)
	}
}
