package sched

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the scheduler's Prometheus metrics.
type metrics struct {
	attempts    *prometheus.CounterVec   // by result
	latency     *prometheus.HistogramVec // one attempt, by result
	e2e         prometheus.Histogram     // pod created → bound
	bound       prometheus.Counter
	bindErrors  *prometheus.CounterVec // by code
	bindBatch   prometheus.Histogram
	preemptions prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, q *queue) (*metrics, error) {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wask_scheduler_schedule_attempts_total",
			Help: "Scheduling attempts, by result: scheduled (a node was chosen), unschedulable (no node fits), error.",
		}, []string{"result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wask_scheduler_scheduling_attempt_duration_seconds",
			Help:    "Time of one scheduling attempt (filter, score, preemption), by result.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 2, 18),
		}, []string{"result"}),
		e2e: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wask_scheduler_pod_scheduling_duration_seconds",
			Help:    "Time from a pod's creation to the acknowledgement of its binding.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}),
		bound: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wask_scheduler_pods_bound_total",
			Help: "Pods this scheduler bound.",
		}),
		bindErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wask_scheduler_bind_errors_total",
			Help: "Bindings that failed, by code (failed_precondition: another scheduler was first).",
		}, []string{"code"}),
		bindBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wask_scheduler_bind_batch_size",
			Help:    "Bindings per Bind call.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		preemptions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wask_scheduler_preemption_victims_total",
			Help: "Pods deleted to make room for higher-priority pods.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	depth := func(which int) func() float64 {
		return func() float64 {
			a, b, u := q.Len()
			return float64([]int{a, b, u}[which])
		}
	}
	collectors := []prometheus.Collector{m.attempts, m.latency, m.e2e, m.bound, m.bindErrors, m.bindBatch, m.preemptions}
	for i, name := range []string{"active", "backoff", "unschedulable"} {
		collectors = append(collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "wask_scheduler_pending_pods",
			Help:        "Pods waiting to be scheduled, by queue: active, backoff, unschedulable.",
			ConstLabels: prometheus.Labels{"queue": name},
		}, depth(i)))
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) attempt(result string, d time.Duration) {
	m.attempts.WithLabelValues(result).Inc()
	m.latency.WithLabelValues(result).Observe(d.Seconds())
}
