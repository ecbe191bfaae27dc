package ctrl

import (
	"log/slog"
	"time"

	"github.com/wask-dev/wask/client"
)

// Env is what a controller is built from: the cluster, the shared
// informers, and the injected logger, metrics, event recorder and clock.
// The manager makes a fresh Env each time it becomes leader.
type Env struct {
	Client    *client.Client
	Informers *Informers
	Logger    *slog.Logger
	Metrics   *Metrics // nil: no metrics
	Events    *Recorder
	Now       func() time.Time
}

// NewEnv returns an Env with fresh informers; a nil logger discards, a nil
// now is time.Now.
func NewEnv(c *client.Client, log *slog.Logger, m *Metrics, now func() time.Time) *Env {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Env{
		Client:    c,
		Informers: NewInformers(c, log),
		Logger:    log,
		Metrics:   m,
		Events:    NewRecorder(c, log, now),
		Now:       now,
	}
}
