package ctrl

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the controllers' Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	latency *prometheus.HistogramVec
	total   *prometheus.CounterVec
	errors  *prometheus.CounterVec
	leader  prometheus.Gauge

	mu     sync.Mutex
	depths map[string]func() int
	desc   *prometheus.Desc
}

// NewMetrics registers the controller metrics on reg:
//
//	wask_controller_queue_depth{controller}              keys waiting
//	wask_controller_reconcile_duration_seconds{controller} reconcile latency
//	wask_controller_reconciles_total{controller}         reconciles done
//	wask_controller_reconcile_errors_total{controller}   reconciles that failed
//	wask_controller_leader                               1 while this manager leads
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wask_controller_reconcile_duration_seconds",
			Help:    "Time one reconcile took, by controller.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}, []string{"controller"}),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wask_controller_reconciles_total",
			Help: "Reconciles done, by controller.",
		}, []string{"controller"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wask_controller_reconcile_errors_total",
			Help: "Reconciles that returned an error (and were retried), by controller.",
		}, []string{"controller"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wask_controller_leader",
			Help: "1 while this controller manager holds the leader lease, else 0.",
		}),
		depths: map[string]func() int{},
		desc:   prometheus.NewDesc("wask_controller_queue_depth", "Keys waiting in the controller's queue.", []string{"controller"}, nil),
	}
	for _, c := range []prometheus.Collector{m.latency, m.total, m.errors, m.leader, depthCollector{m}} {
		if err := reg.Register(c); err != nil {
			return nil, errors.Join(errors.New("ctrl: register metrics"), err)
		}
	}
	return m, nil
}

func (m *Metrics) observe(name string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.latency.WithLabelValues(name).Observe(d.Seconds())
	m.total.WithLabelValues(name).Inc()
	if err != nil {
		m.errors.WithLabelValues(name).Inc()
	}
}

// SetLeader records whether this manager leads.
func (m *Metrics) SetLeader(leading bool) {
	if m == nil {
		return
	}
	if leading {
		m.leader.Set(1)
	} else {
		m.leader.Set(0)
	}
}

func (m *Metrics) trackQueue(name string, depth func() int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.depths[name] = depth
}

func (m *Metrics) untrackQueue(name string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.depths, name)
}

// depthCollector reads the queues' lengths when scraped.
type depthCollector struct{ m *Metrics }

func (d depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.m.desc }

func (d depthCollector) Collect(ch chan<- prometheus.Metric) {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	for name, depth := range d.m.depths {
		ch <- prometheus.MustNewConstMetric(d.m.desc, prometheus.GaugeValue, float64(depth()), name)
	}
}
