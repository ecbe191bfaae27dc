// Package pki makes and loads the cluster's certificate authority and the
// certificates it issues: the apiserver's serving certificate and the
// nodes' certificates for mutual TLS between meshproxies. Keys are ECDSA
// P-256; private keys are written with mode 0600.
//
// The CA's hash (SHA-256 of its public key, as kubeadm's
// discovery-token-ca-cert-hash) lets a joining node trust the apiserver it
// was told about without a copy of the CA.
package pki
