package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/wask-dev/wask/apiserver"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/moduleinspect"
	"github.com/wask-dev/wask/internal/pki"
	"github.com/wask-dev/wask/internal/token"
	"github.com/wask-dev/wask/store"
)

// serverOptions are the flags of `wask server` and `wask up`.
type serverOptions struct {
	dataDir  string
	apiAddr  string
	logLevel string
	// writeUserConfig also writes the default client config (wask up).
	writeUserConfig bool
	// runNode runs a wasmlet in-process (wask up).
	runNode bool
	// mesh is where the in-process node's meshproxy listens (wask up).
	mesh meshOptions
	// hostPaths are the host directories the in-process node lets pods
	// mount (wask up).
	hostPaths []string
	sched     schedulerOptions
}

func (o *serverOptions) addFlags(c *cobra.Command) {
	c.Flags().StringVar(&o.dataDir, "data-dir", defaultDataDir(), "where the cluster keeps its store, certificates and tokens")
	c.Flags().StringVar(&o.apiAddr, "api-addr", "127.0.0.1:7070", "address the apiserver listens on (TLS)")
	c.Flags().StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	o.sched.addFlags(c)
}

// defaultDataDir is $XDG_DATA_HOME/wask, or ~/.local/share/wask.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "wask")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "wask")
	}
	return "wask-data"
}

func newServerCmd(e *env) *cobra.Command {
	var o serverOptions
	c := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane (apiserver and scheduler) alone, for a cluster of several nodes",
		Long: `Run the control plane alone. On first start it makes a cluster CA, a serving certificate, an
admin token and a node join token (written to <data-dir>/node-token for "wask node").`,
		Args: argsRange(0, 0),
		RunE: func(c *cobra.Command, _ []string) error { return e.serve(c.Context(), o) },
	}
	o.addFlags(c)
	return c
}

func newUpCmd(e *env) *cobra.Command {
	o := serverOptions{writeUserConfig: true, runNode: true}
	c := &cobra.Command{
		Use:   "up",
		Short: "Run a single-node cluster in this process",
		Long: `Run a whole single-node cluster in this process, on an embedded store in --data-dir.

It writes a client config to <data-dir>/admin.yaml and to the default client config path, so
"wask get", "wask apply" and the other client commands work from another terminal.`,
		Args: argsRange(0, 0),
		RunE: func(c *cobra.Command, _ []string) error { return e.serve(c.Context(), o) },
	}
	o.addFlags(c)
	c.Flags().StringVar(&o.mesh.ingressAddr, "ingress-addr", defaultIngressAddr, "address of the node's HTTP ingress (Service traffic)")
	c.Flags().StringVar(&o.mesh.meshAddr, "mesh-addr", defaultMeshAddr, "UDP address of the node's mesh (QUIC) listener")
	c.Flags().StringSliceVar(&o.hostPaths, "allow-host-path", []string{"/"}, "host directories pods may mount (spec.mounts), repeatable; the default \"/\" is development mode: pods may mount any directory wask can read")
	var noNode bool
	c.Flags().BoolVar(&noNode, "no-node", false, "run the control plane only, without the in-process node (as wask server, but with the client config written)")
	c.PreRun = func(*cobra.Command, []string) { o.runNode = !noNode }
	return c
}

func (e *env) logger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: l})), nil
}

// serve runs the control plane until ctx ends.
func (e *env) serve(ctx context.Context, o serverOptions) error {
	start := time.Now()
	log, err := e.logger(o.logLevel)
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(o.apiAddr)
	if err != nil {
		return usagef("--api-addr %q: %v", o.apiAddr, err)
	}
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	creds, err := loadOrCreateCredentials(o.dataDir, host, start)
	if err != nil {
		return err
	}
	st, err := store.Open(store.Config{Path: filepath.Join(o.dataDir, "store"), Logger: log.With("component", "store")})
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := apiserver.New(apiserver.Config{
		Store:         st,
		Logger:        log.With("component", "apiserver"),
		ModuleDir:     filepath.Join(o.dataDir, "modules"),
		InspectModule: moduleinspect.Inspect,
		CA:            creds.ca,
	})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", o.apiAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another wask running? pick another --api-addr)", o.apiAddr, err)
	}
	url := "https://" + lis.Addr().String()
	adminCfg := client.Config{Server: url, CA: filepath.Join(o.dataDir, "pki", pki.CACertFile), Token: creds.adminToken}
	adminPath := filepath.Join(o.dataDir, "admin.yaml")
	if err := client.WriteConfig(adminPath, adminCfg); err != nil {
		return fmt.Errorf("write %s: %w", adminPath, err)
	}
	if o.writeUserConfig {
		if p, err := client.DefaultConfigPath(); err == nil {
			if err := client.WriteConfig(p, adminCfg); err != nil {
				log.Warn("could not write the default client config", "path", p, "err", err)
			}
		}
	}
	reg := prometheus.NewRegistry()
	stopScheduler, err := o.sched.start(ctx, log, adminCfg, reg)
	if err != nil {
		lis.Close()
		return err
	}
	// The apiserver outlives the in-process node, which drains through it.
	apiCtx, stopAPI := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAPI()
	served := make(chan error, 1)
	go func() {
		served <- srv.Serve(apiCtx, apiserver.ServeConfig{
			Registry: reg,
			Listener: lis,
			TLS:      &tls.Config{Certificates: []tls.Certificate{creds.cert}, MinVersion: tls.VersionTLS12},
			Tokens:   apiserver.StaticTokens{Admin: creds.adminToken, NodeJoin: creds.join.Secret},
		})
	}()
	log.Info("apiserver listening", "url", url, "revision", st.Revision(), "startup", time.Since(start).Round(time.Millisecond))
	defer startControllers(ctx, adminCfg, reg, log.With("component", "controller-manager"))()
	fmt.Fprintf(e.stdout, "wask is up at %s (ready in %s). Use it: export WASK_CONFIG=%s\n", url, time.Since(start).Round(time.Millisecond), adminPath)
	stopNode := func() error { return nil }
	if o.runNode {
		mo := o.mesh
		mo.registry = reg
		if stopNode, err = startLocalNode(ctx, log, url, adminCfg.CA, creds.join.Secret, o.dataDir, mo, o.hostPaths); err != nil {
			stopAPI()
			stopScheduler()
			if ctx.Err() != nil {
				err = nil // stopped while the node was starting: a normal stop
			}
			return errors.Join(err, <-served)
		}
	}
	select {
	case err := <-served:
		stopScheduler()
		return errors.Join(err, stopNode())
	case <-ctx.Done():
	}
	nodeErr := stopNode()
	stopScheduler()
	stopAPI()
	if err := errors.Join(<-served, nodeErr); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// credentials are the cluster's secrets, made on first start.
type credentials struct {
	ca         *pki.CA
	cert       tls.Certificate
	adminToken string
	join       token.Join
}

func loadOrCreateCredentials(dataDir, host string, now time.Time) (credentials, error) {
	pkiDir := filepath.Join(dataDir, "pki")
	ca, _, err := pki.LoadOrCreateCA(pkiDir, "wask-ca", now)
	if err != nil {
		return credentials{}, err
	}
	hosts := []string{"localhost", "127.0.0.1"}
	if host != "" && host != "0.0.0.0" && host != "::" && !strings.EqualFold(host, "localhost") && host != "127.0.0.1" {
		hosts = append(hosts, host)
	}
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	cert, err := ca.LoadOrIssueServerCert(pkiDir, hosts, now)
	if err != nil {
		return credentials{}, err
	}
	cert.Certificate = append(cert.Certificate, ca.Cert.Raw) // for joining nodes to find (wask node)
	admin, err := loadOrCreateToken(filepath.Join(dataDir, "admin-token"), token.New)
	if err != nil {
		return credentials{}, err
	}
	nodeTokenPath := filepath.Join(dataDir, "node-token")
	joinStr, err := loadOrCreateToken(nodeTokenPath, func() string {
		return token.Join{CAHash: ca.Hash(), Secret: token.New()}.String()
	})
	if err != nil {
		return credentials{}, err
	}
	join, err := token.ParseJoin(joinStr)
	if err != nil {
		return credentials{}, fmt.Errorf("%s: %w", nodeTokenPath, err)
	}
	if join.CAHash != ca.Hash() {
		return credentials{}, fmt.Errorf("%s names another cluster's CA (%s, this one is %s): remove it to make a new one", nodeTokenPath, join.CAHash, ca.Hash())
	}
	return credentials{ca: ca, cert: cert, adminToken: admin, join: join}, nil
}

func loadOrCreateToken(path string, make func() string) (string, error) {
	tok, err := token.ReadFile(path)
	if err == nil {
		return tok, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	tok = make()
	return tok, token.WriteFile(path, tok)
}
