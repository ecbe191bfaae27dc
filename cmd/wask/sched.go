package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/sched"
)

// schedulerOptions are the scheduler's flags of `wask server` and `wask up`.
type schedulerOptions struct {
	config string
	off    bool
	lease  bool
}

func (o *schedulerOptions) addFlags(c *cobra.Command) {
	c.Flags().StringVar(&o.config, "scheduler-config", "", "scheduler config file (YAML: plugins, weights, seed; see sched.Config); default: built-in defaults")
	c.Flags().BoolVar(&o.off, "no-scheduler", false, "do not run the scheduler in this process")
	c.Flags().BoolVar(&o.lease, "scheduler-leader-elect", false, "schedule only while holding the Lease default/wask-scheduler (for several control planes)")
}

// start builds the scheduler for the apiserver at cfg and runs it in the
// background until ctx ends or stop is called; stop returns once it has
// stopped. With --no-scheduler it runs nothing.
func (o *schedulerOptions) start(ctx context.Context, log *slog.Logger, cfg client.Config, reg prometheus.Registerer) (stop func(), err error) {
	if o.off {
		return func() {}, nil
	}
	var schedCfg sched.Config
	if o.config != "" {
		if schedCfg, err = sched.LoadConfig(o.config); err != nil {
			return nil, usagef("--scheduler-config: %v", err)
		}
	}
	cl, err := client.New(cfg)
	if err != nil {
		return nil, err
	}
	opts := sched.Options{Client: cl, Config: schedCfg, Logger: log.With("component", "scheduler"), Registry: reg}
	if o.lease {
		host, _ := os.Hostname()
		opts.LeaderElection = &sched.LeaderElection{Identity: fmt.Sprintf("%s-%d", host, os.Getpid())}
	}
	s, err := sched.New(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	return func() { cancel(); <-done }, nil
}
