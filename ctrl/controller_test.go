package ctrl_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wask-dev/wask/ctrl"
)

// A reconcile that fails is retried (with back-off), one that panics
// counts as failed, and both show in the metrics.
func TestControllerRetriesAndCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := ctrl.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	env := ctrl.NewEnv(nil, nil, m, nil)
	var mu sync.Mutex
	calls := map[string]int{}
	done := make(chan struct{})
	c := env.NewController("test", 2, func(_ context.Context, key string) (ctrl.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		calls[key]++
		switch {
		case key == "fails" && calls[key] == 1:
			return ctrl.Result{}, errors.New("transient")
		case key == "panics" && calls[key] == 1:
			panic("boom")
		}
		if calls["fails"] >= 2 && calls["panics"] >= 2 && calls["ok"] == 1 {
			select {
			case <-done:
			default:
				close(done)
			}
		}
		return ctrl.Result{}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = c.Run(ctx) }()
	for _, k := range []string{"fails", "panics", "ok"} {
		c.Enqueue(k)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("not every key reconciled to success: %v", calls)
	}
	cancel()
	<-stopped
	mfs, _ := reg.Gather()
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			got[mf.GetName()] += mm.GetCounter().GetValue() + float64(mm.GetHistogram().GetSampleCount())
		}
	}
	if got["wask_controller_reconcile_errors_total"] != 2 || got["wask_controller_reconciles_total"] < 5 || got["wask_controller_reconcile_duration_seconds"] < 5 {
		t.Fatalf("metrics %v", got)
	}
}
