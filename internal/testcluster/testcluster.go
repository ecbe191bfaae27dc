// Package testcluster starts a whole wask control plane in one process for
// tests: a real store in a temporary directory and a real apiserver serving
// TLS on loopback with a fresh cluster CA and tokens, and clients for it.
// As the other parts land, it grows to run them too.
package testcluster

import (
	"context"
	"crypto/tls"
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
}

// Start starts a cluster that stops when the test ends.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	logger := opts.Logger
	if logger == nil {
		var w io.Writer = io.Discard
		if os.Getenv("WASK_TEST_LOG") != "" {
			w = os.Stderr
		}
		logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	dir := t.TempDir()
	now := time.Now()

	stCfg := opts.StoreConfig
	stCfg.Path = filepath.Join(dir, "store")
	stCfg.Logger = logger
	if stCfg.CompactionInterval == 0 {
		stCfg.CompactionInterval = -1
	}
	st, err := store.Open(stCfg)
	if err != nil {
		t.Fatalf("testcluster: %v", err)
	}

	ca, _, err := pki.LoadOrCreateCA(filepath.Join(dir, "pki"), "wask-test-ca", now)
	if err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	cert, err := ca.LoadOrIssueServerCert(filepath.Join(dir, "pki"), []string{"127.0.0.1", "localhost"}, now)
	if err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	srv, err := apiserver.New(apiserver.Config{
		Store:         st,
		Logger:        logger,
		ModuleDir:     filepath.Join(dir, "modules"),
		InspectModule: moduleinspect.Inspect,
		CA:            ca,
	})
	if err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testcluster: %v", err)
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
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("testcluster: apiserver: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("testcluster: store: %v", err)
		}
	})
	c.Client = c.NewClient(t, c.ClientConfig())
	return c
}

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
