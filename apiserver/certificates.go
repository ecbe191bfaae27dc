package apiserver

import (
	"context"
	"net/http"
	"time"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/api/wask/v1/waskv1connect"
	"github.com/wask-dev/wask/internal/pki"
)

// This file is wask.v1.CertificateService: node certificates for the
// mesh, signed by the cluster CA (Config.CA) from a node's certificate
// signing request.

var _ waskv1connect.CertificateServiceHandler = (*Server)(nil)

// CertificateHandler returns the path to mount the CertificateService on
// and its handler; opts (e.g. authentication interceptors) apply to it.
func (s *Server) CertificateHandler(opts ...connect.HandlerOption) (string, http.Handler) {
	return waskv1connect.NewCertificateServiceHandler(s, opts...)
}

// IssueNodeCertificate signs the node certificate of the caller (a node) or
// of the node an admin names; see certificate_service.proto.
func (s *Server) IssueNodeCertificate(ctx context.Context, req *connect.Request[waskv1.IssueNodeCertificateRequest]) (*connect.Response[waskv1.IssueNodeCertificateResponse], error) {
	if s.ca == nil {
		return nil, failedPrecondition("this apiserver has no cluster CA key (Config.CA): it cannot issue node certificates")
	}
	id, _ := IdentityFrom(ctx)
	node := req.Msg.GetNodeName()
	switch {
	case id.Admin && node == "":
		return nil, invalidArgument("nodeName: required when an admin asks for a node certificate")
	case !id.Admin && id.Node == "":
		return nil, permissionDenied(id, "get a node certificate")
	case !id.Admin && node != "" && node != id.Node:
		return nil, permissionDenied(id, "get the certificate of node "+node)
	case node == "":
		node = id.Node
	}
	if msg := checkDNSSubdomain(node); msg != "" {
		return nil, invalidArgument("nodeName: %s", msg)
	}
	now := s.now()
	certPEM, err := s.ca.SignNodeCSR([]byte(req.Msg.GetCsr()), node, now, pki.NodeCertValidity)
	if err != nil {
		return nil, invalidArgument("csr: %v", err)
	}
	s.log.Info("issued node certificate", "node", node, "by", id.String())
	return connect.NewResponse(&waskv1.IssueNodeCertificateResponse{
		Certificate: string(certPEM),
		Ca:          string(s.ca.CertPEM),
		NotAfter:    now.Add(pki.NodeCertValidity).UTC().Format(time.RFC3339),
	}), nil
}
