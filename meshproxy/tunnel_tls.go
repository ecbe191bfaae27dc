package meshproxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/wask-dev/wask/internal/pki"
)

// meshALPN names the tunnel's framing in the TLS handshake.
const meshALPN = "wask-mesh/1"

// NodeTLS is a node's identity in the mesh: its certificate issued by the
// cluster CA (pki.IssueNodeCert: client and server usage, the node name as
// CN and DNS name) and the CA that must have signed its peers'.
type NodeTLS struct {
	Cert tls.Certificate
	CA   *x509.CertPool
}

func (n NodeTLS) check() error {
	if len(n.Cert.Certificate) == 0 {
		return errors.New("meshproxy: config: TLS.Cert: required (the node certificate issued by the cluster CA)")
	}
	if n.CA == nil {
		return errors.New("meshproxy: config: TLS.CA: required (the cluster CA)")
	}
	return nil
}

// requireNode checks that a verified peer chain ends in a node certificate.
func requireNode(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("meshproxy: peer sent no certificate")
	}
	if _, err := pki.NodeName(cs.PeerCertificates[0]); err != nil {
		return fmt.Errorf("meshproxy: peer refused: %w", err)
	}
	return nil
}

// serverTLS accepts only peers with a node certificate of the cluster CA,
// TLS 1.3, no session resumption (and so no 0-RTT).
func (n NodeTLS) serverTLS() *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{n.Cert},
		ClientCAs:              n.CA,
		ClientAuth:             tls.RequireAndVerifyClientCert,
		NextProtos:             []string{meshALPN},
		SessionTicketsDisabled: true,
		VerifyConnection:       requireNode,
	}
}

// clientTLS dials the node named node: its certificate must name it.
func (n NodeTLS) clientTLS(node string) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{n.Cert},
		RootCAs:                n.CA,
		ServerName:             node,
		NextProtos:             []string{meshALPN},
		SessionTicketsDisabled: true,
		VerifyConnection:       requireNode,
	}
}

// quicConfig is the tunnel's QUIC configuration: a peer silent for
// peerTimeout is gone (keep-alives keep a healthy idle connection open),
// many concurrent streams per connection, no 0-RTT.
func quicConfig(peerTimeout time.Duration) *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout: peerTimeout,
		MaxIdleTimeout:       peerTimeout,
		KeepAlivePeriod:      peerTimeout / 4,
		MaxIncomingStreams:   10000,
		Allow0RTT:            false,
	}
}
