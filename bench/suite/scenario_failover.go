package suite

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

func init() {
	register(Scenario{Name: "failover", Doc: "SIGKILL a node under load: time to detect, to reschedule, to serve again; requests lost", Run: runFailover})
}

// failoverResult is one round: durations from the kill.
type failoverResult struct {
	detect, reschedule, clean time.Duration
	ok, lost                  int
}

func runFailover(ctx context.Context, env *Env) error {
	var results []failoverResult
	rounds := env.Quick(1, 3)
	env.Report.Rounds = rounds
	for r := range rounds {
		env.Progress("round %d/%d", r+1, rounds)
		res, err := failoverRound(ctx, env)
		if err != nil {
			return err
		}
		results = append(results, res)
	}
	c := &Case{Name: "a node of three killed (SIGKILL) under load through another node's ingress"}
	med := func(f func(failoverResult) float64) float64 {
		var xs []float64
		for _, r := range results {
			xs = append(xs, f(r))
		}
		return median(xs)
	}
	const side = "wask (3 nodes, tiny ×3)"
	c.SetMetric(side, "1 detected (Node NotReady)", "s", med(func(r failoverResult) float64 { return r.detect.Seconds() }))
	c.SetMetric(side, "2 rescheduled (3 ready replicas elsewhere)", "s", med(func(r failoverResult) float64 { return r.reschedule.Seconds() }))
	c.SetMetric(side, "3 serving without errors again", "s", med(func(r failoverResult) float64 { return r.clean.Seconds() }))
	c.SetMetric(side, "4 requests lost", "", med(func(r failoverResult) float64 { return float64(r.lost) }))
	c.SetMetric(side, "5 requests served", "", med(func(r failoverResult) float64 { return float64(r.ok) }))
	env.Report.Cases = append(env.Report.Cases, c)
	env.Report.Note("Medians of %d rounds, each on a fresh cluster (wask server and three wask node processes). Times are from the SIGKILL. The Lease grace (3 s) and the pods' default toleration (2 s) set the first two; a request is lost when it was in flight to the killed node (8 clients in a closed loop).", rounds)
	return nil
}

func failoverRound(ctx context.Context, env *Env) (failoverResult, error) {
	var res failoverResult
	cl, err := startCluster(ctx, env, "n1", "n2", "n3")
	if err != nil {
		return res, err
	}
	defer cl.close()
	file, err := cl.sampleModule(ctx, "tiny")
	if err != nil {
		return res, err
	}
	if err := cl.apply(ctx, fmt.Sprintf(`apiVersion: wask.dev/v1
kind: Deployment
metadata: {name: tiny, labels: {app: tiny}}
spec:
  replicas: 3
  selector: {matchLabels: {app: tiny}}
  template:
    metadata: {labels: {app: tiny}}
    spec:
      module: ./%s
      mode: http-reactor
      readinessProbe: {httpGet: {path: /}}
      resources: {limits: {memory: 64Ki, timeout: 1s}}
---
apiVersion: wask.dev/v1
kind: Service
metadata: {name: tiny}
spec: {selector: {app: tiny}}
`, file)); err != nil {
		return res, err
	}
	readyPods := func() map[string]int { // node: ready tiny pods
		pods, _, err := client.List[*waskv1.Pod](ctx, cl.client, client.ListOptions{Namespace: "default", LabelSelector: "app=tiny"})
		out := map[string]int{}
		if err != nil {
			return out
		}
		for _, p := range pods {
			if p.GetMetadata().GetDeletionTimestamp() == nil && podIsReady(p) {
				out[p.GetSpec().GetNodeName()]++
			}
		}
		return out
	}
	if err := waitFor(ctx, 2*time.Minute, "3 ready tiny pods", func() bool {
		n := 0
		for _, c := range readyPods() {
			n += c
		}
		return n == 3
	}); err != nil {
		return res, err
	}
	// The victim: the node with the most pods; the load enters elsewhere.
	victim, most := "", 0
	for node, n := range readyPods() {
		if n > most || (n == most && node < victim) {
			victim, most = node, n
		}
	}
	entry := "n1"
	if victim == "n1" {
		entry = "n2"
	}
	ingress, err := cl.address(ctx, entry, "Ingress")
	if err != nil {
		return res, err
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	type outcome struct {
		at time.Time
		ok bool
	}
	var mu sync.Mutex
	var outcomes []outcome
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for loadCtx.Err() == nil {
				start := time.Now()
				req, _ := http.NewRequestWithContext(loadCtx, "GET", "http://"+ingress+"/", nil)
				req.Host = "tiny.default"
				resp, err := hc.Do(req)
				ok := err == nil && resp.StatusCode == http.StatusOK
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if loadCtx.Err() != nil {
					return
				}
				mu.Lock()
				outcomes = append(outcomes, outcome{start, ok})
				mu.Unlock()
			}
		}()
	}
	served := func() int { mu.Lock(); defer mu.Unlock(); return len(outcomes) }
	if err := waitFor(ctx, time.Minute, "steady load before the kill", func() bool { return served() >= 200 }); err != nil {
		stopLoad()
		wg.Wait()
		return res, err
	}
	cl.kill(victim)
	killed := time.Now()
	env.Progress("killed %s (%d pods); waiting for detection", victim, most)
	if err := waitFor(ctx, time.Minute, victim+" NotReady", func() bool { return !cl.nodeReady(ctx, victim) }); err != nil {
		stopLoad()
		wg.Wait()
		return res, err
	}
	res.detect = time.Since(killed)
	if err := waitFor(ctx, 2*time.Minute, "3 ready replicas off "+victim, func() bool {
		pods := readyPods()
		n := 0
		for node, c := range pods {
			if node != victim {
				n += c
			}
		}
		return n == 3
	}); err != nil {
		stopLoad()
		wg.Wait()
		return res, err
	}
	res.reschedule = time.Since(killed)
	after := served() + 1000 // keep the load on, to see it clean
	if err := waitFor(ctx, time.Minute, "load after the reschedule", func() bool { return served() >= after }); err != nil {
		stopLoad()
		wg.Wait()
		return res, err
	}
	stopLoad()
	wg.Wait()
	sort.Slice(outcomes, func(i, j int) bool { return outcomes[i].at.Before(outcomes[j].at) })
	var lastFail time.Time
	for _, o := range outcomes {
		if o.ok {
			res.ok++
		} else {
			res.lost++
			lastFail = o.at
		}
	}
	if !lastFail.IsZero() {
		res.clean = max(0, lastFail.Sub(killed))
	}
	return res, nil
}

func podIsReady(p *waskv1.Pod) bool {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus() == "True"
		}
	}
	return false
}
