package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/ctrl"
)

// Controller is one controller the manager runs.
type Controller struct {
	// Name, for logs.
	Name string
	// New builds the controller from a leadership term's Env.
	New func(env *ctrl.Env) ctrl.Runnable
}

// Config configures a Manager.
type Config struct {
	// Client reaches the cluster with admin rights. Required.
	Client *client.Client
	// Controllers to run. Default: Defaults(Options{}).
	Controllers []Controller
	// Election tunes leader election; its Client, Identity, Logger and Now
	// default to the manager's.
	Election ctrl.ElectorConfig
	// Identity of this manager among candidates. Default: hostname-pid.
	Identity string
	// Registry gets the controller metrics. Default: none are exported.
	Registry prometheus.Registerer
	// Logger. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Manager runs controllers while it leads.
type Manager struct {
	cfg     Config
	elector *ctrl.Elector
	metrics *ctrl.Metrics
}

// New checks cfg and registers the metrics.
func New(cfg Config) (*Manager, error) {
	if cfg.Client == nil {
		return nil, errors.New("manager: Client: required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Identity == "" {
		host, _ := os.Hostname()
		cfg.Identity = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.Controllers == nil {
		cfg.Controllers = Defaults(Options{})
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := ctrl.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("manager: %w", err)
	}
	ec := cfg.Election
	if ec.Client == nil {
		ec.Client = cfg.Client
	}
	if ec.Identity == "" {
		ec.Identity = cfg.Identity
	}
	if ec.Logger == nil {
		ec.Logger = cfg.Logger
	}
	if ec.Now == nil {
		ec.Now = cfg.Now
	}
	el, err := ctrl.NewElector(ec)
	if err != nil {
		return nil, fmt.Errorf("manager: %w", err)
	}
	return &Manager{cfg: cfg, elector: el, metrics: m}, nil
}

// IsLeader reports whether this manager leads (and runs controllers) now.
func (m *Manager) IsLeader() bool { return m.elector.IsLeader() }

// Run campaigns and runs the controllers while leading, until ctx ends;
// it returns after every controller and informer has stopped.
func (m *Manager) Run(ctx context.Context) error {
	return m.elector.Run(ctx, m.lead)
}

// lead runs one leadership term.
func (m *Manager) lead(ctx context.Context) {
	m.metrics.SetLeader(true)
	defer m.metrics.SetLeader(false)
	log := m.cfg.Logger
	env := ctrl.NewEnv(m.cfg.Client, log, m.metrics, m.cfg.Now)
	runs := make([]ctrl.Runnable, 0, len(m.cfg.Controllers))
	for _, c := range m.cfg.Controllers {
		runs = append(runs, c.New(env))
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { _ = env.Informers.Run(ctx) })
	start := time.Now()
	if err := env.Informers.WaitForSync(ctx); err != nil {
		return
	}
	log.Info("controllers starting", "controllers", len(runs), "informers", len(env.Informers.Kinds()), "sync", time.Since(start).Round(time.Millisecond))
	for i, r := range runs {
		wg.Go(func() {
			if err := r.Run(ctx); err != nil {
				log.Error("controller stopped with an error", "controller", m.cfg.Controllers[i].Name, "err", err)
			}
		})
	}
	<-ctx.Done()
}
