// Package testcluster starts a whole wask control plane in one process for
// tests: a real store in a temporary directory and a real apiserver serving
// TLS on loopback with a fresh cluster CA and tokens, and clients for it.
// As the other parts land, it grows to run them too.
package testcluster

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wask-dev/wask/apiserver"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/moduleinspect"
	"github.com/wask-dev/wask/internal/pki"
	"github.com/wask-dev/wask/internal/token"
	"github.com/wask-dev/wask/store"
)

// Cluster is a running control plane.
type Cluster struct {
	DataDir    string
	Store      *store.Store
	Server     *apiserver.Server
	URL        string // https://127.0.0.1:port
	CA         *pki.CA
	AdminToken string
	JoinSecret string
	// Client is an admin client.
	Client *client.Client

	logger *slog.Logger
	close  func() error
	mu     sync.Mutex
	nodes  int // nodes added so far
}

// Options change what Start starts.
type Options struct {
	// StoreConfig is applied over the defaults (Path is set by Start).
	StoreConfig store.Config
	// Serve is applied over the defaults (Listener, TLS, Tokens are set).
	Serve apiserver.ServeConfig
	// Logger; default: discard (set WASK_TEST_LOG=1 to see logs).
	Logger *slog.Logger
	// Dir holds the store, CA and modules. Start defaults it to the
	// test's temporary directory; New requires it.
	Dir string
}

// Start starts a cluster that stops when the test ends.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("testcluster: %v", err)
		}
	})
	return c
}

// New starts a cluster in opts.Dir (required) for a caller that is not a
// test (the benchmark suite); Close stops it.
func New(opts Options) (*Cluster, error) {
	logger := opts.Logger
	if logger == nil {
		var w io.Writer = io.Discard
		if os.Getenv("WASK_TEST_LOG") != "" {
			w = os.Stderr
		}
		logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.Dir == "" {
		return nil, errors.New("Options.Dir: required")
	}
	dir := opts.Dir
	now := time.Now()

	stCfg := opts.StoreConfig
	stCfg.Path = filepath.Join(dir, "store")
	stCfg.Logger = logger
	if stCfg.CompactionInterval == 0 {
		stCfg.CompactionInterval = -1
	}
	st, err := store.Open(stCfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Cluster, error) {
		st.Close()
		return nil, err
	}
	ca, _, err := pki.LoadOrCreateCA(filepath.Join(dir, "pki"), "wask-test-ca", now)
	if err != nil {
		return fail(err)
	}
	cert, err := ca.LoadOrIssueServerCert(filepath.Join(dir, "pki"), []string{"127.0.0.1", "localhost"}, now)
	if err != nil {
		return fail(err)
	}
	srv, err := apiserver.New(apiserver.Config{
		Store:         st,
		Logger:        logger,
		ModuleDir:     filepath.Join(dir, "modules"),
		InspectModule: moduleinspect.Inspect,
		CA:            ca,
	})
	if err != nil {
		return fail(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	c := &Cluster{
		DataDir: dir, Store: st, Server: srv, CA: ca, logger: logger,
		URL:        "https://" + lis.Addr().String(),
		AdminToken: token.New(),
		JoinSecret: token.New(),
	}
	serveCfg := opts.Serve
	serveCfg.Listener = lis
	serveCfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	serveCfg.Tokens = apiserver.StaticTokens{Admin: c.AdminToken, NodeJoin: c.JoinSecret}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, serveCfg) }()
	c.close = func() error {
		cancel()
		return errors.Join(<-served, st.Close())
	}
	if c.Client, err = client.New(c.ClientConfig()); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close stops the apiserver and closes the store.
func (c *Cluster) Close() error { return c.close() }

// ClientConfig is an admin client's config.
func (c *Cluster) ClientConfig() client.Config {
	return client.Config{Server: c.URL, CAData: c.CA.CertPEM, Token: c.AdminToken}
}

// NodeClient returns a client acting as the node name.
func (c *Cluster) NodeClient(t testing.TB, name string) *client.Client {
	cfg := c.NodeClientConfig()
	cfg.NodeName = name
	return c.NewClient(t, cfg)
}

// NewClient returns a client for cfg.
func (c *Cluster) NewClient(t testing.TB, cfg client.Config) *client.Client {
	t.Helper()
	cl, err := client.New(cfg)
	if err != nil {
		t.Fatalf("testcluster: client: %v", err)
	}
	return cl
}
