package suite

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

func init() {
	register(Scenario{Name: "density", Doc: "pods one node holds: memory per idle tiny and echo pod, and per echo pod that served a request (node process RSS)", Run: runDensity})
}

func runDensity(ctx context.Context, env *Env) error {
	c := &Case{Name: "memory of a node process per pod (RSS growth / pods)"}
	env.Report.Rounds = 1
	for _, mod := range []string{"tiny", "echo"} {
		idle := env.Quick(20, 1000)
		active := env.Quick(3, 40)
		if mod == "tiny" {
			active = env.Quick(10, 200)
		}
		perIdle, perActive, err := densityRound(ctx, env, mod, idle, active)
		if err != nil {
			return err
		}
		side := fmt.Sprintf("%s (%d idle pods, %d active)", mod, idle, active)
		c.SetMetric(side, "1 per idle pod", "KiB", perIdle/1024)
		c.SetMetric(side, "2 per pod that served a request", "KiB", perActive/1024)
	}
	env.Report.Cases = append(env.Report.Cases, c)
	env.Report.Note("One wask node process; its resident set (VmRSS) is read before and after the pods are Running (idle: no instance kept once started), then after one request to each of the active pods, each behind its own Service (an http-reactor keeps a warm instance until its idle timeout). RSS includes the Go heap's slack and what the Go runtime returns to the system meanwhile, so it is noisy: a figure near zero or below means less than the noise of about 30 MiB over the run.")
	return nil
}

// densityRound starts a one-node cluster, runs idle pods of mod, and
// returns the RSS growth per idle pod and per pod that served a request.
func densityRound(ctx context.Context, env *Env, mod string, idle, active int) (perIdle, perActive float64, err error) {
	cl, err := startCluster(ctx, env, "n1")
	if err != nil {
		return 0, 0, err
	}
	defer cl.close()
	file, err := cl.sampleModule(ctx, mod)
	if err != nil {
		return 0, 0, err
	}
	var b strings.Builder
	pod := func(name string, labels string) {
		fmt.Fprintf(&b, `apiVersion: wask.dev/v1
kind: Pod
metadata: {name: %s, labels: {%s}}
spec:
  module: ./%s
  mode: http-reactor
  nodeName: n1
  resources: {limits: {memory: 64Mi, timeout: 5s}}
---
`, name, labels, file)
	}
	// One pod first so the module is compiled and cached before measuring.
	pod("warm", "bench: density")
	if err := cl.apply(ctx, b.String()); err != nil {
		return 0, 0, err
	}
	running := func(want int) error {
		return waitFor(ctx, 5*time.Minute, fmt.Sprintf("%d %s pods Running", want, mod), func() bool {
			pods, _, err := client.List[*waskv1.Pod](ctx, cl.client, client.ListOptions{Namespace: "default", LabelSelector: "bench=density", FieldSelector: "status.phase=Running"})
			return err == nil && len(pods) >= want
		})
	}
	if err := running(1); err != nil {
		return 0, 0, err
	}
	// RSS is read a second after a change: the node's allocations of the
	// change (informer events, status writes) have been made by then.
	settle := func() (int64, error) { time.Sleep(time.Second); return cl.rss("n1") }
	before, err := settle()
	if err != nil {
		return 0, 0, err
	}
	b.Reset()
	for i := range idle {
		pod(fmt.Sprintf("idle-%d", i), "bench: density")
	}
	env.Progress("%d idle %s pods", idle, mod)
	if err := cl.apply(ctx, b.String()); err != nil {
		return 0, 0, err
	}
	if err := running(1 + idle); err != nil {
		return 0, 0, err
	}
	afterIdle, err := settle()
	if err != nil {
		return 0, 0, err
	}
	b.Reset()
	for i := range active {
		name := fmt.Sprintf("active-%d", i)
		fmt.Fprintf(&b, "apiVersion: wask.dev/v1\nkind: Service\nmetadata: {name: %[1]s}\nspec: {selector: {pod: %[1]s}}\n---\n", name)
		pod(name, "bench: density, pod: "+name)
	}
	env.Progress("%d %s pods serving a request each", active, mod)
	if err := cl.apply(ctx, b.String()); err != nil {
		return 0, 0, err
	}
	if err := running(1 + idle + active); err != nil {
		return 0, 0, err
	}
	ingress, err := cl.address(ctx, "n1", "Ingress")
	if err != nil {
		return 0, 0, err
	}
	beforeActive, err := settle()
	if err != nil {
		return 0, 0, err
	}
	for i := range active {
		host := fmt.Sprintf("active-%d.default", i)
		if err := waitFor(ctx, time.Minute, host+" served", func() bool {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+ingress+"/", nil)
			req.Host = host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return false
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}); err != nil {
			return 0, 0, err
		}
	}
	afterActive, err := cl.rss("n1")
	if err != nil {
		return 0, 0, err
	}
	return float64(afterIdle-before) / float64(idle), float64(afterActive-beforeActive) / float64(active), nil
}
