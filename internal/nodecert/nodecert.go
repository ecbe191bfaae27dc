// Package nodecert gets and keeps a node's mesh certificate: it loads the
// certificate from the node's data directory, and when there is none, it
// names another node, it is not from the cluster CA, or it expires within
// 30 days, it makes a new key and a certificate signing request and has the
// control plane sign it (wask.v1.CertificateService.IssueNodeCertificate,
// authenticated with the node's join credential). The private key never
// leaves the node.
//
// It is for the node agent's wiring (cmd/wask); it imports client and
// internal/pki.
package nodecert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/pki"
)

// File names in a node's certificate directory.
const (
	CertFile = "node.crt"
	KeyFile  = "node.key"
	CAFile   = "ca.crt"
)

// renewBefore is how long before expiry a certificate is replaced.
const renewBefore = 30 * 24 * time.Hour

// Identity is a node's mesh identity: its certificate and the CA its peers'
// certificates must chain to.
type Identity struct {
	Cert tls.Certificate
	CA   *x509.CertPool
	// NotAfter is when Cert expires.
	NotAfter time.Time
}

// LoadOrRequest returns node's identity from dir, asking the control plane
// through c (a node client of that node) for a new certificate when needed.
// A certificate due for renewal but still valid is returned if asking
// fails.
func LoadOrRequest(ctx context.Context, c *client.Client, dir, node string, now time.Time) (Identity, error) {
	if id, err := load(dir, node, now, renewBefore); err == nil {
		return id, nil
	}
	csrPEM, keyPEM, err := pki.NewNodeCSR(node)
	if err != nil {
		return Identity{}, fmt.Errorf("nodecert: %w", err)
	}
	resp, err := c.Certificates.IssueNodeCertificate(ctx, connect.NewRequest(&waskv1.IssueNodeCertificateRequest{Csr: string(csrPEM)}))
	if err != nil {
		if id, lerr := load(dir, node, now, 0); lerr == nil {
			return id, nil // due for renewal but still valid: renew on a later start
		}
		return Identity{}, fmt.Errorf("nodecert: ask the control plane for node %s's certificate: %w", node, err)
	}
	files := map[string][]byte{KeyFile: keyPEM, CertFile: []byte(resp.Msg.GetCertificate()), CAFile: []byte(resp.Msg.GetCa())}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Identity{}, fmt.Errorf("nodecert: %w", err)
	}
	for _, name := range []string{KeyFile, CAFile, CertFile} { // the certificate last: it marks a complete set
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path+".tmp", files[name], 0o600); err != nil {
			return Identity{}, fmt.Errorf("nodecert: %w", err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			return Identity{}, fmt.Errorf("nodecert: %w", err)
		}
	}
	id, err := load(dir, node, now, 0) // the control plane's clock decided its validity
	if err != nil {
		return Identity{}, fmt.Errorf("nodecert: the issued certificate: %w", err)
	}
	return id, nil
}

// load reads and checks the identity in dir: node's, from the CA in dir,
// valid at now and for at least margin more.
func load(dir, node string, now time.Time, margin time.Duration) (Identity, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
	if err != nil {
		return Identity{}, err
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		return Identity{}, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return Identity{}, errors.New(CAFile + ": no certificate")
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return Identity{}, err
	}
	if name, err := pki.NodeName(leaf); err != nil || name != node {
		return Identity{}, fmt.Errorf("%s is not node %s's certificate (%q, %v)", CertFile, node, name, err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}); err != nil {
		return Identity{}, err
	}
	if leaf.NotAfter.Before(now.Add(margin)) {
		return Identity{}, fmt.Errorf("%s expires %s", CertFile, leaf.NotAfter)
	}
	return Identity{Cert: cert, CA: pool, NotAfter: leaf.NotAfter}, nil
}
