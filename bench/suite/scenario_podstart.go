package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

func init() {
	register(Scenario{Name: "podstart", Doc: "create → finished of a hello pod, one at a time and in a burst, vs the same program as a runc container and as a plain process (fork/exec)", Run: runPodstart})
}

// helloMain is the peers' program: what the hello sample does, natively.
const helloMain = `package main

import "fmt"

func main() { fmt.Println("hello, world, from podstart") }
`

func runPodstart(ctx context.Context, env *Env) error {
	cl, err := startCluster(ctx, env, "n1")
	if err != nil {
		return err
	}
	defer cl.close()
	file, err := cl.sampleModule(ctx, "hello")
	if err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, cl.wask, "--config", cl.config, "push", filepath.Join(cl.dir, file), "--name", "hello").CombinedOutput(); err != nil {
		return fmt.Errorf("wask push: %v: %s", err, out)
	}
	pods, err := newPodWaiter(ctx, cl.client)
	if err != nil {
		return err
	}
	native, err := buildStatic(ctx, env.dir, "hello", helloMain)
	if err != nil {
		return err
	}
	bundle, why := runcBundle(ctx, env.dir, native)
	if bundle == "" {
		env.Report.Note("runc was left out: %s", why)
	}
	var seq atomic.Int64
	wask := func(workers, n int) func(ctx context.Context) (Sample, error) {
		return func(ctx context.Context) (Sample, error) {
			var names []string
			var mu sync.Mutex
			defer func() { pods.deleteAll(context.WithoutCancel(ctx), names) }()
			return Closed(ctx, workers, n, func(ctx context.Context, _, _ int) error {
				name := fmt.Sprintf("podstart-%d", seq.Add(1))
				mu.Lock()
				names = append(names, name)
				mu.Unlock()
				done := pods.expect(name)
				pod := &waskv1.Pod{Metadata: &waskv1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "podstart"}},
					Spec: &waskv1.PodSpec{Module: "hello", Mode: "command", RestartPolicy: "Never"}}
				if _, err := client.Create(ctx, cl.client, pod); err != nil {
					return err
				}
				select {
				case phase := <-done:
					if phase != "Succeeded" {
						return fmt.Errorf("pod %s: %s", name, phase)
					}
					return nil
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Minute):
					return fmt.Errorf("pod %s did not finish within a minute", name)
				}
			})
		}
	}
	process := func(workers, n int) func(ctx context.Context) (Sample, error) {
		return func(ctx context.Context) (Sample, error) {
			return Closed(ctx, workers, n, func(ctx context.Context, _, _ int) error {
				return exec.CommandContext(ctx, native).Run()
			})
		}
	}
	runc := func(workers, n int) func(ctx context.Context) (Sample, error) {
		return func(ctx context.Context) (Sample, error) {
			return Closed(ctx, workers, n, func(ctx context.Context, _, i int) error {
				id := fmt.Sprintf("podstart-%d", seq.Add(1))
				out, err := exec.CommandContext(ctx, "runc", "--root", filepath.Join(env.dir, "runc-state"), "run", "--bundle", bundle, id).CombinedOutput()
				if err != nil {
					return fmt.Errorf("runc run: %v: %s", err, lastLine(string(out)))
				}
				return nil
			})
		}
	}
	// One pod first, not measured: the node compiles hello once (the
	// figures are for a module already compiled, as the are).
	env.Progress("warming up: the node compiles hello")
	if _, err := wask(1, 1)(ctx); err != nil {
		return err
	}
	for _, c := range []struct {
		name       string
		workers, n int
	}{
		{"one at a time", 1, env.Quick(5, 50)},
		{fmt.Sprintf("burst of %d, 64 at a time", env.Quick(50, 1000)), 64, env.Quick(50, 1000)},
	} {
		cs := []Contender{
			{"wask pod (create → Succeeded)", wask(c.workers, c.n)},
			{"plain process (fork/exec → exit)", process(c.workers, c.n)},
		}
		if bundle != "" {
			cs = append(cs, Contender{"runc container (run → exit)", runc(c.workers, c.n)})
		}
		if err := env.Compare(ctx, &Case{Name: c.name, Group: "start", Concurrency: c.workers}, cs...); err != nil {
			return err
		}
	}
	env.Report.Note("A wask pod here is created through the apiserver, scheduled, run by a wask node process (the hello sample: prints a line and exits), and reported Succeeded; the latency ends when the bench's watch sees that. The peers run the same program compiled natively (static Go): fork/exec waits for its exit; runc starts it in a container of a minimal rootfs and waits for its exit.")
	return nil
}

// podWaiter follows pods' phases through an informer: expect(name)
// returns a channel that gets the pod's phase once it has finished.
type podWaiter struct {
	c       *client.Client
	mu      sync.Mutex
	waiting map[string]chan string
}

func newPodWaiter(ctx context.Context, c *client.Client) (*podWaiter, error) {
	w := &podWaiter{c: c, waiting: map[string]chan string{}}
	inf, err := client.NewInformer(c, client.InformerOptions{Kind: "Pod", Namespace: "default", LabelSelector: "bench=podstart"})
	if err != nil {
		return nil, err
	}
	seen := func(o *waskv1.Object) {
		p := o.GetPod()
		ph := p.GetStatus().GetPhase()
		if ph != "Succeeded" && ph != "Failed" {
			return
		}
		w.mu.Lock()
		ch := w.waiting[p.GetMetadata().GetName()]
		delete(w.waiting, p.GetMetadata().GetName())
		w.mu.Unlock()
		if ch != nil {
			ch <- ph
		}
	}
	inf.AddHandler(client.Handler{OnAdd: seen, OnUpdate: func(_, o *waskv1.Object) { seen(o) }})
	go inf.Run(ctx)
	return w, inf.WaitForSync(ctx)
}

func (w *podWaiter) expect(name string) <-chan string {
	ch := make(chan string, 1)
	w.mu.Lock()
	w.waiting[name] = ch
	w.mu.Unlock()
	return ch
}

// deleteAll deletes the pods, 16 at a time.
func (w *podWaiter) deleteAll(ctx context.Context, names []string) {
	Closed(ctx, 16, len(names), func(ctx context.Context, _, i int) error {
		client.Delete[*waskv1.Pod](ctx, w.c, "default", names[i], nil)
		return nil
	})
}

// buildStatic builds a one-file Go program as a static binary.
func buildStatic(ctx context.Context, dir, name, src string) (string, error) {
	srcDir := filepath.Join(dir, name+"-src")
	os.MkdirAll(srcDir, 0o755)
	os.WriteFile(filepath.Join(srcDir, "go.mod"), []byte("module "+name+"\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(srcDir, "main.go"), []byte(src), 0o644)
	out := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = srcDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %v: %s", name, err, b)
	}
	return out, nil
}

// runcBundle makes an OCI bundle whose rootfs holds only the static
// program, or says why it cannot (no runc, not root).
func runcBundle(ctx context.Context, dir, program string) (string, string) {
	if _, err := exec.LookPath("runc"); err != nil {
		return "", "runc is not installed (apt-get install runc)"
	}
	if os.Geteuid() != 0 {
		return "", "runc needs root here (rootless containers are not set up)"
	}
	bundle := filepath.Join(dir, "bundle")
	os.MkdirAll(filepath.Join(bundle, "rootfs"), 0o755)
	b, err := os.ReadFile(program)
	if err == nil {
		err = os.WriteFile(filepath.Join(bundle, "rootfs", "hello"), b, 0o755)
	}
	if err != nil {
		return "", err.Error()
	}
	if out, err := exec.CommandContext(ctx, "runc", "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		return "", fmt.Sprintf("runc spec: %v: %s", err, out)
	}
	cfgPath := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return "", err.Error()
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		return "", err.Error()
	}
	proc := spec["process"].(map[string]any)
	proc["args"] = []string{"/hello"}
	proc["terminal"] = false
	spec["root"].(map[string]any)["readonly"] = true
	raw, _ = json.Marshal(spec)
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		return "", err.Error()
	}
	return bundle, ""
}
