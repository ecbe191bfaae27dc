package suite

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wask-dev/wask/wasmlet/sandbox"
)

func init() {
	register(Scenario{Name: "http", Doc: "requests through a node's ingress to tiny and echo (local and cross-node) vs an in-process call vs haproxy and nginx in front of a Go server", Run: runHTTP})
}

func runHTTP(ctx context.Context, env *Env) error {
	cl, err := startCluster(ctx, env, "n1", "n2")
	if err != nil {
		return err
	}
	defer cl.close()
	var manifest strings.Builder
	for _, mod := range []string{"tiny", "echo"} {
		file, err := cl.sampleModule(ctx, mod)
		if err != nil {
			return err
		}
		for _, where := range [][2]string{{"local", "n1"}, {"remote", "n2"}} {
			name := mod + "-" + where[0]
			fmt.Fprintf(&manifest, `apiVersion: wask.dev/v1
kind: Service
metadata: {name: %[1]s}
spec: {selector: {app: %[1]s}}
---
apiVersion: wask.dev/v1
kind: Pod
metadata: {name: %[1]s, labels: {app: %[1]s}}
spec:
  module: ./%[2]s
  mode: http-reactor
  nodeName: %[3]s
  resources: {limits: {memory: 64Mi, timeout: 5s}}
---
`, name, file, where[1])
		}
	}
	env.Progress("deploying tiny and echo on n1 and n2")
	if err := cl.apply(ctx, manifest.String()); err != nil {
		return err
	}
	ingress, err := cl.address(ctx, "n1", "Ingress")
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	get := func(ctx context.Context, addr, host string) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/", nil)
		req.Host = host
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s (Host %s): %s", addr, host, resp.Status)
		}
		return nil
	}
	for _, svc := range []string{"tiny-local", "tiny-remote", "echo-local", "echo-remote"} {
		if err := waitFor(ctx, 2*time.Minute, svc+" served", func() bool { return get(ctx, ingress, svc+".default") == nil }); err != nil {
			return err
		}
	}

	goAddr, stopGo, err := goServer("hello from tiny\n")
	if err != nil {
		return err
	}
	defer stopGo()
	proxies := map[string]string{}
	for _, name := range []string{"haproxy", "nginx"} {
		addr, stop, why := proxyPeer(ctx, env.dir, name, goAddr)
		if addr == "" {
			env.Report.Note("%s was left out: %s", name, why)
			continue
		}
		defer stop()
		proxies[name] = addr
	}
	floor, closeFloor, err := inProcessHandlers(ctx, cl.dir)
	if err != nil {
		return err
	}
	defer closeFloor()

	for _, mod := range []string{"tiny", "echo"} {
		for _, conc := range []int{1, 32} {
			n := env.Quick(40, 3000)
			if conc > 1 {
				n = env.Quick(200, 20000)
			}
			load := func(addr, host string) func(ctx context.Context) (Sample, error) {
				return func(ctx context.Context) (Sample, error) {
					return Closed(ctx, conc, n, func(ctx context.Context, _, _ int) error { return get(ctx, addr, host) })
				}
			}
			h := floor[mod]
			cs := []Contender{
				{"wask ingress → local pod", load(ingress, mod+"-local.default")},
				{"wask ingress → pod on another node", load(ingress, mod+"-remote.default")},
				{"in-process call (floor)", func(ctx context.Context) (Sample, error) {
					return Closed(ctx, conc, n, func(ctx context.Context, _, _ int) error {
						w := httptest.NewRecorder()
						h.ServeHTTP(w, httptest.NewRequestWithContext(ctx, "GET", "/", nil))
						if w.Code != http.StatusOK {
							return fmt.Errorf("in-process %s: %d", mod, w.Code)
						}
						return nil
					})
				}},
				{"Go server, direct", load(goAddr, "go")},
			}
			for _, name := range []string{"haproxy", "nginx"} {
				if addr, ok := proxies[name]; ok {
					cs = append(cs, Contender{name + " → Go server", load(addr, "go")})
				}
			}
			c := &Case{Name: fmt.Sprintf("%s, %d connection(s)", mod, conc), Group: mod, Concurrency: conc}
			if err := env.Compare(ctx, c, cs...); err != nil {
				return err
			}
		}
	}
	env.Report.Note("The cluster is a wask server and two wask node processes on this machine; the load comes from the bench process (keep-alive HTTP/1.1). haproxy and nginx proxy to a Go server that answers like tiny, for both groups; the in-process call runs the guest's handler in the bench process with no network.")
	return nil
}

// inProcessHandlers compiles tiny and echo into a sandbox runtime in this
// process: the floor of a request, with no network at all.
func inProcessHandlers(ctx context.Context, dir string) (map[string]http.Handler, func(), error) {
	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		return nil, nil, err
	}
	hs := map[string]http.Handler{}
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
		rt.Close(context.Background())
	}
	for _, mod := range []string{"tiny", "echo"} {
		wasm, err := os.ReadFile(filepath.Join(dir, mod+".wasm"))
		if err == nil {
			var m *sandbox.Module
			if m, err = rt.Compile(ctx, wasm); err == nil {
				var h *sandbox.Handler
				if h, err = rt.NewHandler(m, sandbox.Spec{Name: mod}, sandbox.ModeHTTPReactor, sandbox.PoolConfig{}); err == nil {
					hs[mod] = h
					closers = append(closers, func() { h.Close(context.Background()) })
				}
			}
		}
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("in-process %s: %w", mod, err)
		}
	}
	return hs, closeAll, nil
}
