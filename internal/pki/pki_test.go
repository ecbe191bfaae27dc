package pki

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

func TestLoadOrCreateCA(t *testing.T) {
	dir := t.TempDir()
	ca, created, err := LoadOrCreateCA(dir, "wask-ca", now)
	if err != nil || !created {
		t.Fatalf("first LoadOrCreateCA = %v, %v", created, err)
	}
	st, err := os.Stat(filepath.Join(dir, CAKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("CA key mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
	again, created, err := LoadOrCreateCA(dir, "wask-ca", now)
	if err != nil || created {
		t.Fatalf("second LoadOrCreateCA = %v, %v; want loaded", created, err)
	}
	if again.Hash() != ca.Hash() || !strings.HasPrefix(ca.Hash(), "sha256:") || len(ca.Hash()) != 7+64 {
		t.Fatalf("hash %q vs %q", again.Hash(), ca.Hash())
	}
	os.Remove(filepath.Join(dir, CAKeyFile))
	if _, _, err := LoadOrCreateCA(dir, "wask-ca", now); err == nil || !strings.Contains(err.Error(), "need both") {
		t.Fatalf("CA without key = %v, want an error naming both files", err)
	}
}

// TestServerAndClientCerts serves TLS with an issued server certificate
// and requires an issued client certificate: a real handshake both ways.
func TestServerAndClientCerts(t *testing.T) {
	dir := t.TempDir()
	ca, _, err := LoadOrCreateCA(dir, "wask-ca", now)
	if err != nil {
		t.Fatal(err)
	}
	serverCert, err := ca.LoadOrIssueServerCert(dir, []string{"127.0.0.1", "localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Loaded, not reissued, the second time.
	again, err := ca.LoadOrIssueServerCert(dir, []string{"127.0.0.1"}, time.Now())
	if err != nil || string(again.Certificate[0]) != string(serverCert.Certificate[0]) {
		t.Fatalf("server cert reissued although valid: %v", err)
	}
	// A new host name forces a new certificate.
	other, err := ca.LoadOrIssueServerCert(dir, []string{"127.0.0.1", "wask.example"}, time.Now())
	if err != nil || string(other.Certificate[0]) == string(serverCert.Certificate[0]) {
		t.Fatalf("server cert not reissued for a new host: %v", err)
	}

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.TLS.PeerCertificates[0].Subject.CommonName))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{other}, ClientCAs: ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	defer srv.Close()

	certPEM, keyPEM, err := ca.Issue(CertRequest{CommonName: "node-1", Client: true, Validity: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	get := func(certs []tls.Certificate, roots *x509.CertPool) (string, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
		resp, err := c.Get(srv.URL)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b := make([]byte, 64)
		n, _ := resp.Body.Read(b)
		return string(b[:n]), nil
	}
	if got, err := get([]tls.Certificate{clientCert}, ca.Pool()); err != nil || got != "node-1" {
		t.Fatalf("mutual TLS = %q, %v; want node-1", got, err)
	}
	if _, err := get(nil, ca.Pool()); err == nil {
		t.Fatal("a client without a certificate was accepted")
	}
	stranger, _ := NewCA("stranger", now, time.Hour)
	if _, err := get([]tls.Certificate{clientCert}, stranger.Pool()); err == nil {
		t.Fatal("the client trusted a server signed by another CA")
	}
}
