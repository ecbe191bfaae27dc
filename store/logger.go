package store

import (
	"context"
	"fmt"
	"log/slog"
)

// pebbleLogger sends Pebble's logs to the store's slog logger.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.LogAttrs(context.Background(), slog.LevelDebug, fmt.Sprintf(format, args...), slog.String("component", "pebble"))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.LogAttrs(context.Background(), slog.LevelError, fmt.Sprintf(format, args...), slog.String("component", "pebble"))
}

// Fatalf is called by Pebble on unrecoverable errors; it must not return.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.LogAttrs(context.Background(), slog.LevelError, msg, slog.String("component", "pebble"), slog.Bool("fatal", true))
	panic("pebble: " + msg)
}
