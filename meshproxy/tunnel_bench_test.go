package meshproxy

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// The benchmarks below chose the tunnel's protocol (RATIONALE.md "Why a
// lean framing over QUIC streams instead of HTTP/3?"): the same small
// request round trip to a pod on another "node" (two QUIC endpoints on
// loopback, mutual TLS), once with the framing of frame.go and once with
// quic-go's HTTP/3.

func okPods() *fakePods {
	pods := &fakePods{}
	pods.set("ns", "pod", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	return pods
}

func BenchmarkTunnelFraming(b *testing.B) {
	p := newTestPKI(b)
	nb := startTunnelNode(b, p.node(b, "node-b"), "", okPods())
	na := startTunnelNode(b, p.node(b, "node-a"), "", &fakePods{})
	e := &Endpoint{Namespace: "ns", Pod: "pod", Node: "node-b", Address: nb.addr}
	rt := func() error {
		req, _ := http.NewRequest("GET", "http://svc.ns/", nil)
		resp, err := na.client.RoundTrip(context.Background(), e, req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}
	runRoundTrips(b, rt)
}

func BenchmarkTunnelHTTP3(b *testing.B) {
	p := newTestPKI(b)
	pods := okPods()
	bTLS, aTLS := p.node(b, "node-b"), p.node(b, "node-a")

	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	serverTLS := bTLS.serverTLS()
	serverTLS.NextProtos = []string{http3.NextProtoH3}
	qc := quicConfig(5 * time.Second)
	trB := &quic.Transport{Conn: udp}
	ln, err := trB.Listen(serverTLS, qc)
	if err != nil {
		b.Fatal(err)
	}
	srv := &http3.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pods.Invoke(r.Context(), r.Header.Get("Wask-Namespace"), r.Header.Get("Wask-Pod"), w, r)
	})}
	go srv.ServeListener(ln)
	defer func() { srv.Close(); trB.Close(); udp.Close() }()

	udpA, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	trA := &quic.Transport{Conn: udpA}
	defer func() { trA.Close(); udpA.Close() }()
	clientTLS := aTLS.clientTLS("node-b")
	clientTLS.NextProtos = []string{http3.NextProtoH3}
	h3 := &http3.Transport{TLSClientConfig: clientTLS, QUICConfig: qc,
		Dial: func(ctx context.Context, _ string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
			return trA.Dial(ctx, udp.LocalAddr(), tlsCfg, cfg)
		}}
	defer h3.Close()
	rt := func() error {
		req, _ := http.NewRequest("GET", "https://node-b/", nil)
		req.Header.Set("Wask-Namespace", "ns")
		req.Header.Set("Wask-Pod", "pod")
		resp, err := h3.RoundTrip(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}
	runRoundTrips(b, rt)
}

// serialRoundTrips times rt one call at a time and reports percentiles.
func serialRoundTrips(b *testing.B, rt func() error) {
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		if err := rt(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	reportPercentiles(b, lat)
}

// runRoundTrips measures rt serially (latency: p50 reported) and with 32
// concurrent callers (throughput).
func runRoundTrips(b *testing.B, rt func() error) {
	if err := rt(); err != nil { // connect outside the timing
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		serialRoundTrips(b, rt)
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16) // 16 × GOMAXPROCS callers
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := rt(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	})
}
