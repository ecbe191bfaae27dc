package suite

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

// cluster is a wask control plane (`wask server`) and nodes (`wask node`),
// each a real process of the wask binary, on loopback.
type cluster struct {
	wask, dir, config string
	client            *client.Client
	server            *proc
	mu                sync.Mutex
	nodes             map[string]*proc
}

// proc is a daemon process and its output.
type proc struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
}

func startProc(bin, dir string, args ...string) (*proc, error) {
	p := &proc{out: &bytes.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop ends the process: SIGTERM, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// startCluster starts `wask server` and the named nodes, and waits until
// every node is Ready.
func startCluster(ctx context.Context, env *Env, nodes ...string) (*cluster, error) {
	bin, err := waskBinary(ctx, env)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(env.dir, "cluster-")
	if err != nil {
		return nil, err
	}
	c := &cluster{wask: bin, dir: dir, nodes: map[string]*proc{}}
	env.Progress("starting wask server and %d node(s)", len(nodes))
	if c.server, err = startProc(bin, dir, "server", "--data-dir", filepath.Join(dir, "server"), "--api-addr", "127.0.0.1:0", "--log-level", "warn"); err != nil {
		return nil, err
	}
	c.config = filepath.Join(dir, "server", "admin.yaml")
	if err := waitFor(ctx, 30*time.Second, "wask server's admin.yaml", func() bool { _, err := os.Stat(c.config); return err == nil }); err != nil {
		c.close()
		return nil, fmt.Errorf("%w: %s", err, lastLine(c.server.out.String()))
	}
	cfg, err := client.LoadConfig(c.config)
	if err == nil {
		c.client, err = client.New(cfg)
	}
	if err != nil {
		c.close()
		return nil, err
	}
	for _, n := range nodes {
		if err := c.addNode(n); err != nil {
			c.close()
			return nil, err
		}
	}
	for _, n := range nodes {
		if err := waitFor(ctx, time.Minute, "node "+n+" Ready", func() bool { return c.nodeReady(ctx, n) }); err != nil {
			c.close()
			return nil, fmt.Errorf("%w: %s", err, lastLine(c.nodes[n].out.String()))
		}
	}
	return c, nil
}

func (c *cluster) addNode(name string) error {
	cfg, _ := client.LoadConfig(c.config)
	p, err := startProc(c.wask, c.dir, "node", "--server", cfg.Server, "--join-token-file", filepath.Join(c.dir, "server", "node-token"),
		"--name", name, "--data-dir", filepath.Join(c.dir, name), "--compile-cache-dir", filepath.Join(c.dir, "compiled"),
		"--ingress-addr", "127.0.0.1:0", "--mesh-addr", "127.0.0.1:0", "--log-level", "warn", "--drain-timeout", "5s")
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.nodes[name] = p
	c.mu.Unlock()
	return nil
}

func (c *cluster) nodeReady(ctx context.Context, name string) bool {
	n, err := client.Get[*waskv1.Node](ctx, c.client, "", name)
	if err != nil {
		return false
	}
	for _, cond := range n.GetStatus().GetConditions() {
		if cond.GetType() == "Ready" {
			return cond.GetStatus() == "True"
		}
	}
	return false
}

// address is one of node's published addresses ("Ingress", "Mesh").
func (c *cluster) address(ctx context.Context, node, typ string) (string, error) {
	n, err := client.Get[*waskv1.Node](ctx, c.client, "", node)
	if err != nil {
		return "", err
	}
	for _, a := range n.GetStatus().GetAddresses() {
		if a.GetType() == typ {
			return a.GetAddress(), nil
		}
	}
	return "", fmt.Errorf("node %s publishes no %s address", node, typ)
}

// apply runs `wask apply -f -` with manifest; module paths in it are
// relative to the cluster's directory.
func (c *cluster) apply(ctx context.Context, manifest string) error {
	f := filepath.Join(c.dir, fmt.Sprintf("manifest-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(f, []byte(manifest), 0o644); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, c.wask, "--config", c.config, "apply", "-f", f).CombinedOutput()
	if err != nil {
		return fmt.Errorf("wask apply: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// kill ends a node at once (SIGKILL), as a crash does.
func (c *cluster) kill(node string) {
	c.mu.Lock()
	p := c.nodes[node]
	delete(c.nodes, node)
	c.mu.Unlock()
	if p != nil {
		p.cmd.Process.Kill()
		<-p.done
	}
}

// rss is a node process's resident memory in bytes (Linux).
func (c *cluster) rss(node string) (int64, error) {
	c.mu.Lock()
	p := c.nodes[node]
	c.mu.Unlock()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

func (c *cluster) close() {
	c.mu.Lock()
	nodes := c.nodes
	c.nodes = map[string]*proc{}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop(10 * time.Second) }()
	}
	wg.Wait()
	if c.server != nil {
		c.server.stop(10 * time.Second)
	}
}

// waitFor polls cond every 10 ms until it holds, or fails after limit.
func waitFor(ctx context.Context, limit time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s", what, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// sampleModule writes a sample guest into the cluster's directory and
// returns its file name: tiny (committed .wasm) or a Go sample built with
// GOOS=wasip1 (reactors with -buildmode=c-shared).
func (c *cluster) sampleModule(ctx context.Context, name string) (string, error) {
	root, err := sourceRoot()
	if err != nil {
		return "", fmt.Errorf("the %s sample: %w", name, err)
	}
	out := filepath.Join(c.dir, name+".wasm")
	if name == "tiny" {
		b, err := os.ReadFile(filepath.Join(root, "wasm-samples", "tiny", "tiny.wasm"))
		if err != nil {
			return "", err
		}
		return name + ".wasm", os.WriteFile(out, b, 0o644)
	}
	args := []string{"build", "-o", out}
	if src, err := os.ReadFile(filepath.Join(root, "wasm-samples", name, "main.go")); err == nil && bytes.Contains(src, []byte("//wask:reactor")) {
		args = append(args, "-buildmode=c-shared")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./wasm-samples/"+name)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the %s sample: %v: %s", name, err, lastLine(string(b)))
	}
	return name + ".wasm", nil
}
