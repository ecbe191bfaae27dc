package apiserver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/internal/pki"
	"github.com/wask-dev/wask/internal/testcluster"
)

// TestIssueNodeCertificate: a joining node sends a CSR with its join
// credential and gets a node certificate for its own name only.
func TestIssueNodeCertificate(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	ctx := context.Background()
	csrPEM, keyPEM, err := pki.NewNodeCSR("node-1")
	if err != nil {
		t.Fatal(err)
	}
	node := c.NodeClient(t, "node-1")
	resp, err := node.Certificates.IssueNodeCertificate(ctx, connect.NewRequest(&waskv1.IssueNodeCertificateRequest{Csr: string(csrPEM)}))
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair([]byte(resp.Msg.GetCertificate()), keyPEM)
	if err != nil {
		t.Fatalf("certificate does not match the node's key: %v", err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	if name, err := pki.NodeName(leaf); err != nil || name != "node-1" {
		t.Errorf("certificate is node %q (%v); want node-1", name, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(resp.Msg.GetCa())) {
		t.Fatal("response carries no CA")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "node-1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("verify under the returned CA: %v", err)
	}
	if resp.Msg.GetNotAfter() == "" {
		t.Error("no notAfter")
	}

	tests := []struct {
		name string
		call func() error
		code connect.Code
		msg  string
	}{
		{"a node asks for another node's", func() error {
			_, err := node.Certificates.IssueNodeCertificate(ctx, connect.NewRequest(&waskv1.IssueNodeCertificateRequest{Csr: string(csrPEM), NodeName: "node-2"}))
			return err
		}, connect.CodePermissionDenied, "node-2"},
		{"an admin without a node name", func() error {
			_, err := c.Client.Certificates.IssueNodeCertificate(ctx, connect.NewRequest(&waskv1.IssueNodeCertificateRequest{Csr: string(csrPEM)}))
			return err
		}, connect.CodeInvalidArgument, "nodeName"},
		{"not a CSR", func() error {
			_, err := node.Certificates.IssueNodeCertificate(ctx, connect.NewRequest(&waskv1.IssueNodeCertificateRequest{Csr: "junk"}))
			return err
		}, connect.CodeInvalidArgument, "csr"},
		{"no token", func() error {
			cfg := c.ClientConfig()
			cfg.Token = ""
			anon := c.NewClient(t, cfg)
			_, err := anon.Certificates.IssueNodeCertificate(ctx, connect.NewRequest(&waskv1.IssueNodeCertificateRequest{Csr: string(csrPEM)}))
			return err
		}, connect.CodeUnauthenticated, "token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if connect.CodeOf(err) != tt.code || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v; want %v naming %q", err, tt.code, tt.msg)
			}
		})
	}
	// An admin may issue one for a named node.
	if _, err := c.Client.Certificates.IssueNodeCertificate(ctx, connect.NewRequest(&waskv1.IssueNodeCertificateRequest{Csr: string(csrPEM), NodeName: "node-9"})); err != nil {
		t.Errorf("admin for node-9: %v", err)
	}
}
