package pki

import (
	"crypto/x509"
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
	if validity <= 0 {
		validity = NodeCertValidity
	}
	return ca.Issue(CertRequest{
		CommonName: nodeName, Organization: []string{NodeOrganization}, DNSNames: []string{nodeName},
		Server: true, Client: true, Validity: validity,
	}, now)
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
