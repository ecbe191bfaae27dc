package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"
)

// NodeOrganization is the subject organization of every node certificate:
// the mesh accepts a peer only if its certificate, signed by the cluster
// CA, carries it.
const NodeOrganization = "wask:nodes"

// NodeCertValidity is how long a node certificate is valid by default.
const NodeCertValidity = 365 * 24 * time.Hour

// IssueNodeCert issues a node's certificate for mutual TLS between
// meshproxies: subject CN = node name, O = NodeOrganization, the node name
// as its DNS name (peers verify it), usable as client and server.
func (ca *CA) IssueNodeCert(nodeName string, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if nodeName == "" {
		return nil, nil, errors.New("pki: node certificate: node name is required")
	}
	return ca.Issue(nodeCertRequest(nodeName, validity), now)
}

func nodeCertRequest(nodeName string, validity time.Duration) CertRequest {
	if validity <= 0 {
		validity = NodeCertValidity
	}
	return CertRequest{
		CommonName: nodeName, Organization: []string{NodeOrganization}, DNSNames: []string{nodeName},
		Server: true, Client: true, Validity: validity,
	}
}

// NewNodeCSR makes a node's key pair and a certificate signing request
// (PKCS #10) for it, as PEM: the node keeps the key and sends the request
// to the control plane (SignNodeCSR), so its private key never leaves it.
func NewNodeCSR(nodeName string) (csrPEM, keyPEM []byte, err error) {
	if nodeName == "" {
		return nil, nil, errors.New("pki: node certificate request: node name is required")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: nodeName, Organization: []string{NodeOrganization}},
		DNSNames: []string{nodeName},
	}, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pemBlock("CERTIFICATE REQUEST", der), pemBlock("PRIVATE KEY", keyDER), nil
}

// SignNodeCSR issues the certificate of node nodeName for the key of a
// PEM certificate signing request. Only the request's public key (proved
// by its signature) is used: the subject, names and usages are the node
// certificate's, whatever the request asked for. The caller must have
// authenticated the node as nodeName.
func (ca *CA) SignNodeCSR(csrPEM []byte, nodeName string, now time.Time, validity time.Duration) (certPEM []byte, err error) {
	if nodeName == "" {
		return nil, errors.New("pki: node certificate: node name is required")
	}
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("pki: node certificate: no PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: node certificate: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("pki: node certificate: request signature: %w", err)
	}
	return ca.sign(nodeCertRequest(nodeName, validity), csr.PublicKey, now)
}

// NodeName returns the node a verified certificate belongs to, or an error
// if it is not a node certificate (wrong organization or usages).
func NodeName(cert *x509.Certificate) (string, error) {
	if !slices.Contains(cert.Subject.Organization, NodeOrganization) {
		return "", fmt.Errorf("pki: certificate %q is not a node certificate (organization %q, want %q)", cert.Subject.CommonName, cert.Subject.Organization, NodeOrganization)
	}
	if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) || !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		return "", fmt.Errorf("pki: node certificate %q lacks client or server usage", cert.Subject.CommonName)
	}
	if cert.Subject.CommonName == "" {
		return "", errors.New("pki: node certificate without a common name")
	}
	return cert.Subject.CommonName, nil
}
