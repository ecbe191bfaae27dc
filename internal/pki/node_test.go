package pki

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"
)

func TestIssueNodeCert(t *testing.T) {
	ca, err := NewCA("wask-ca", now, time.Hour*24*365)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueNodeCert("node-1", now, 0)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "node-1", KeyUsages: []x509.ExtKeyUsage{usage}, CurrentTime: now}); err != nil {
			t.Errorf("verify for usage %v: %v", usage, err)
		}
	}
	if got := leaf.NotAfter.Sub(now); got < NodeCertValidity-time.Hour {
		t.Errorf("validity %v, want the default %v", got, NodeCertValidity)
	}
	if name, err := NodeName(leaf); err != nil || name != "node-1" {
		t.Errorf("NodeName = %q, %v; want node-1", name, err)
	}
	if _, _, err := ca.IssueNodeCert("", now, 0); err == nil {
		t.Error("a node certificate without a name was issued")
	}
	// The apiserver's certificate (server only, no node organization) is not a node's.
	srvPEM, _, err := ca.Issue(CertRequest{CommonName: "wask-apiserver", Server: true, Validity: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := ParseCertificate(srvPEM)
	if _, err := NodeName(srv); err == nil {
		t.Error("the apiserver's certificate passed as a node's")
	}
}
