package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
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

func TestSignNodeCSR(t *testing.T) {
	ca, err := NewCA("wask-ca", now, time.Hour*24*365)
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, keyPEM, err := NewNodeCSR("node-2")
	if err != nil {
		t.Fatal(err)
	}
	// The request names node-2; the authenticated caller is node-3: the certificate is node-3's.
	certPEM, err := ca.SignNodeCSR(csrPEM, "node-3", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("certificate does not match the node's key: %v", err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	if name, err := NodeName(leaf); err != nil || name != "node-3" {
		t.Errorf("NodeName = %q, %v; want node-3", name, err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "node-3", CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("verify: %v", err)
	}
	if _, err := ca.SignNodeCSR([]byte("junk"), "node-3", now, 0); err == nil {
		t.Error("signed junk")
	}
	tampered := append([]byte{}, csrPEM...)
	block, _ := pem.Decode(tampered)
	block.Bytes[len(block.Bytes)-5] ^= 0xff // break the signature
	if _, err := ca.SignNodeCSR(pem.EncodeToMemory(block), "node-3", now, 0); err == nil {
		t.Error("signed a request with a bad signature")
	}
	if _, err := ca.SignNodeCSR(csrPEM, "", now, 0); err == nil {
		t.Error("signed for no node")
	}
}
