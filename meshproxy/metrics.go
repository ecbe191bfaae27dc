package meshproxy

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy's Prometheus metrics, per Service.
type metrics struct {
	requests *prometheus.CounterVec   // namespace, service, code
	latency  *prometheus.HistogramVec // namespace, service
	inflight *prometheus.GaugeVec     // namespace, service
	retries  *prometheus.CounterVec   // namespace, service
	unrouted prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wask_mesh_requests_total", Help: "Requests routed to a Service, by response status code.",
		}, []string{"namespace", "service", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wask_mesh_request_duration_seconds", Help: "Time from a request's arrival to the end of its response, per Service.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"namespace", "service"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wask_mesh_requests_in_flight", Help: "Requests being served, per Service.",
		}, []string{"namespace", "service"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wask_mesh_retries_total", Help: "Requests sent to another endpoint because the first never reached its pod.",
		}, []string{"namespace", "service"}),
		unrouted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wask_mesh_unrouted_requests_total", Help: "Requests that named no known Service (404).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.inflight, m.retries, m.unrouted} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("meshproxy: register metrics: %w", err)
		}
	}
	return m, nil
}
