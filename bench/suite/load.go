package suite

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// LoadOptions describe an open-loop load on one Service through an
// ingress: `wask bench http --service NAME`.
type LoadOptions struct {
	// Ingress is the node ingress's host:port. Required.
	Ingress string
	// Host is the Service's host name ("<service>.<namespace>"). Required.
	Host string
	// Path of every request. Default "/".
	Path string
	// RPS is the request rate, sent on schedule whether or not earlier
	// requests have answered (open loop: a slow service shows as latency,
	// not as fewer requests). Default 100.
	RPS int
	// Duration of the load. Default 10s.
	Duration time.Duration
	// MaxInFlight bounds the requests outstanding; a request due when
	// that many are out is counted as not sent. Default 1,000.
	MaxInFlight int
	// Progress gets a line a second. Nil: none.
	Progress io.Writer
}

// LoadResult is what a load did.
type LoadResult struct {
	Sent, OK, NotSent int
	// Failed counts failures by status ("503", or "error" when no response
	// came).
	Failed    map[string]int
	Elapsed   time.Duration
	Latencies []time.Duration // of answered requests, sorted
}

// Load runs opts' load and returns what happened.
func Load(ctx context.Context, opts LoadOptions) (*LoadResult, error) {
	if opts.Ingress == "" || opts.Host == "" {
		return nil, fmt.Errorf("bench http: the ingress address and the service are required")
	}
	if opts.Path == "" {
		opts.Path = "/"
	}
	if opts.RPS <= 0 {
		opts.RPS = 100
	}
	if opts.Duration <= 0 {
		opts.Duration = 10 * time.Second
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 1000
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: opts.MaxInFlight}, Timeout: 30 * time.Second}
	url := "http://" + opts.Ingress + opts.Path
	res := &LoadResult{Failed: map[string]int{}}
	var mu sync.Mutex
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(opts.RPS)
	start := time.Now()
	lastReport := start
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.Sub(start) >= opts.Duration || ctx.Err() != nil {
			break
		}
		if d := time.Until(due); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		if inFlight.Load() >= int64(opts.MaxInFlight) {
			mu.Lock()
			res.NotSent++
			mu.Unlock()
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		res.Sent++
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			t := time.Now()
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			req.Host = opts.Host
			resp, err := hc.Do(req)
			status := "error"
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = fmt.Sprint(resp.StatusCode)
			}
			lat := time.Since(t)
			mu.Lock()
			defer mu.Unlock()
			if status == "200" {
				res.OK++
				res.Latencies = append(res.Latencies, lat)
			} else {
				res.Failed[status]++
			}
		}()
		if opts.Progress != nil && time.Since(lastReport) >= time.Second {
			lastReport = time.Now()
			mu.Lock()
			fmt.Fprintf(opts.Progress, "\r\033[K%s: %d sent, %d ok, %d failed, %d in flight", time.Since(start).Round(time.Second), res.Sent, res.OK, res.Sent-res.OK-int(inFlight.Load()), inFlight.Load())
			mu.Unlock()
		}
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	sort.Slice(res.Latencies, func(i, j int) bool { return res.Latencies[i] < res.Latencies[j] })
	if opts.Progress != nil {
		fmt.Fprint(opts.Progress, "\r\033[K")
	}
	return res, nil
}

// Report writes the result like a load tester's summary.
func (r *LoadResult) Report(w io.Writer, opts LoadOptions) {
	fmt.Fprintf(w, "%s (Host %s) at %d requests/s for %s\n", opts.Ingress, opts.Host, opts.RPS, opts.Duration)
	fmt.Fprintf(w, "  sent %d, ok %d, failed %d, not sent (over %d in flight) %d; %.0f ok/s\n",
		r.Sent, r.OK, r.Sent-r.OK, opts.MaxInFlight, r.NotSent, float64(r.OK)/r.Elapsed.Seconds())
	var codes []string
	for c := range r.Failed {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "  failed %s: %d\n", c, r.Failed[c])
	}
	if len(r.Latencies) > 0 {
		fmt.Fprintf(w, "  latency p50 %s  p90 %s  p99 %s  max %s\n", dur(percentile(r.Latencies, 0.5)), dur(percentile(r.Latencies, 0.9)),
			dur(percentile(r.Latencies, 0.99)), dur(r.Latencies[len(r.Latencies)-1]))
	}
}
