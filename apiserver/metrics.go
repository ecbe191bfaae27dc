package apiserver

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the apiserver's Prometheus metrics, registered on the
// registry given to Serve.
type metrics struct {
	requests *prometheus.CounterVec   // by procedure and code
	latency  *prometheus.HistogramVec // by procedure
	watches  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wask_apiserver_requests_total",
			Help: "RPCs handled, by procedure and Connect code.",
		}, []string{"procedure", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wask_apiserver_request_duration_seconds",
			Help:    "Time to handle a unary RPC, or a stream's lifetime.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 300},
		}, []string{"procedure"}),
		watches: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wask_apiserver_watches",
			Help: "Watch streams open now.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.watches} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(procedure string, start time.Time, err error) {
	code := "ok"
	if err != nil {
		code = connect.CodeOf(err).String()
	}
	m.requests.WithLabelValues(procedure, code).Inc()
	m.latency.WithLabelValues(procedure).Observe(time.Since(start).Seconds())
}

// metricsInterceptor records every RPC, and bounds concurrent watches.
type metricsInterceptor struct {
	m *metrics
	// watchSlots has one token per allowed concurrent Watch.
	watchSlots chan struct{}
}

func (i metricsInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		resp, err := next(ctx, req)
		i.m.observe(req.Spec().Procedure, start, err)
		return resp, err
	}
}

func (i metricsInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i metricsInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		procedure := conn.Spec().Procedure
		if procedure == watchProcedure {
			select {
			case i.watchSlots <- struct{}{}:
				defer func() { <-i.watchSlots }()
			default:
				err := connect.NewError(connect.CodeResourceExhausted, errors.New("too many concurrent watches on this apiserver; retry later"))
				i.m.observe(procedure, start, err)
				return err
			}
			i.m.watches.Inc()
			defer i.m.watches.Dec()
		}
		err := next(ctx, conn)
		i.m.observe(procedure, start, err)
		return err
	}
}
