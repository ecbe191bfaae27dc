package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl/manager"
)

// startControllers runs the controller manager (with leader election, so
// several `wask server` processes may run it) against the apiserver at
// cfg, registering its metrics on reg. The returned function stops it and
// waits until it has stopped.
func startControllers(ctx context.Context, cfg client.Config, reg prometheus.Registerer, log *slog.Logger) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop := func() { cancel(); wg.Wait() }
	cl, err := client.New(cfg)
	if err != nil {
		log.Error("controllers not started", "err", err)
		return stop
	}
	m, err := manager.New(manager.Config{Client: cl, Registry: reg, Logger: log})
	if err != nil {
		log.Error("controllers not started", "err", err)
		return stop
	}
	wg.Go(func() { _ = m.Run(ctx) })
	return stop
}
