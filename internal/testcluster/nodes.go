package testcluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/wasmlet"
)

// NodeOptions change what AddNode starts.
type NodeOptions struct {
	// Name of the node. Default: "node-<n>" (n counts the cluster's nodes).
	Name string
	// DataDir of the node. Default: a new temporary directory. Give the
	// DataDir of a stopped node to restart it.
	DataDir string
	// Config, if set, edits the wasmlet's config before it starts (Client,
	// Name, DataDir and Logger are already set; defaults for tests: restart
	// back-off 10 ms doubling to 1 s).
	Config func(*wasmlet.Config)
}

// Node is an in-process wasmlet joined to the cluster with the join
// secret, as `wask node` does.
type Node struct {
	*wasmlet.Wasmlet
	Name    string
	DataDir string

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan error
}

// AddNode starts a wasmlet node and waits until it has registered; it
// stops when the test ends (or at Stop).
func (c *Cluster) AddNode(t testing.TB, opts NodeOptions) *Node {
	t.Helper()
	c.mu.Lock()
	c.nodes++
	n := c.nodes
	c.mu.Unlock()
	if opts.Name == "" {
		opts.Name = fmt.Sprintf("node-%d", n)
	}
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	cfg := wasmlet.Config{
		Client:            c.NodeClientConfig(),
		Name:              opts.Name,
		DataDir:           opts.DataDir,
		Logger:            c.logger.With("node", opts.Name),
		RestartBackoff:    10 * time.Millisecond,
		MaxRestartBackoff: time.Second,
	}
	if opts.Config != nil {
		opts.Config(&cfg)
	}
	w, err := wasmlet.New(cfg)
	if err != nil {
		t.Fatalf("testcluster: node %s: %v", opts.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	node := &Node{Wasmlet: w, Name: opts.Name, DataDir: opts.DataDir, cancel: cancel, done: make(chan error, 1)}
	go func() { node.done <- w.Run(ctx) }()
	wait, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	if !w.WaitStarted(wait) {
		cancel()
		t.Fatalf("testcluster: node %s did not register in 30s (or Run failed: %v)", opts.Name, <-node.done)
	}
	t.Cleanup(func() {
		if err := node.Stop(); err != nil {
			t.Errorf("testcluster: node %s: %v", opts.Name, err)
		}
	})
	return node
}

// Stop stops the node (its pods at once) and returns Run's error; later
// calls return nil.
func (n *Node) Stop() error {
	var err error
	n.stopOnce.Do(func() {
		n.cancel()
		err = <-n.done
	})
	return err
}

// NodeClientConfig is the client config a node joins with (join secret).
func (c *Cluster) NodeClientConfig() client.Config {
	return client.Config{Server: c.URL, CAData: c.CA.CertPEM, Token: c.JoinSecret}
}
