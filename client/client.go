package client

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"connectrpc.com/connect"

	"github.com/wask-dev/wask/api/wask/v1/waskv1connect"
)

// Client is a connection to an apiserver. It is safe for concurrent use.
type Client struct {
	// Objects, Modules, Logs and Certificates are the raw Connect clients.
	Objects      waskv1connect.ObjectServiceClient
	Modules      waskv1connect.ModuleServiceClient
	Logs         waskv1connect.LogServiceClient
	Certificates waskv1connect.CertificateServiceClient

	server string
}

// New returns a client for cfg. Extra Connect options (for example
// connect.WithGRPC()) apply to both services.
func New(cfg Config, opts ...connect.ClientOption) (*Client, error) {
	u, err := url.Parse(cfg.Server)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("client: server %q: want an https:// (or http://) URL", cfg.Server)
	}
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	if u.Scheme == "https" {
		tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
		caPEM := cfg.CAData
		if caPEM == nil && cfg.CA != "" {
			if caPEM, err = os.ReadFile(cfg.CA); err != nil {
				return nil, fmt.Errorf("client: read CA: %w", err)
			}
		}
		if caPEM != nil {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(caPEM) {
				return nil, fmt.Errorf("client: CA %s holds no PEM certificate", cfg.CA)
			}
			tlsConfig.RootCAs = pool
		}
		transport.TLSClientConfig = tlsConfig
	} else {
		var protocols http.Protocols
		protocols.SetUnencryptedHTTP2(true)
		transport.Protocols = &protocols
	}
	var rt http.RoundTripper = transport
	if cfg.Token != "" || cfg.NodeName != "" {
		rt = bearer{token: "Bearer " + cfg.Token, node: cfg.NodeName, next: transport}
	}
	hc := &http.Client{Transport: rt}
	base := u.Scheme + "://" + u.Host
	return &Client{
		Objects:      waskv1connect.NewObjectServiceClient(hc, base, opts...),
		Modules:      waskv1connect.NewModuleServiceClient(hc, base, opts...),
		Logs:         waskv1connect.NewLogServiceClient(hc, base, opts...),
		Certificates: waskv1connect.NewCertificateServiceClient(hc, base, opts...),
		server:       base,
	}, nil
}

// Server returns the base URL the client talks to.
func (c *Client) Server() string { return c.server }

// bearer adds the token (and a node's name) to every request.
type bearer struct {
	token, node string
	next        http.RoundTripper
}

// nodeNameHeader is apiserver.NodeNameHeader (the client may not import
// the apiserver).
const nodeNameHeader = "Wask-Node-Name"

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.token != "Bearer " {
		r.Header.Set("Authorization", b.token)
	}
	if b.node != "" {
		r.Header.Set(nodeNameHeader, b.node)
	}
	return b.next.RoundTrip(r)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
