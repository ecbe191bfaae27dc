// Package meshproxy routes Service traffic to pods: a route table that is a
// pure function of Services and Endpoints (routes.go), a balancer that picks
// a ready endpoint per request (balancer.go), the node's HTTP ingress
// (ingress.go), the QUIC tunnel between nodes with mutual TLS under the
// cluster CA (tunnel*.go), and the outbound path guests' calls take
// (outbound.go). Proxy (proxy.go) watches Services and Endpoints and wires
// these together.
//
// A local pod is called in-process through the Local interface (the
// wasmlet, wired by cmd/wask); a pod on another node over one pooled QUIC
// connection to that node, a stream per request.
//
// meshproxy is the only user of quic-go. It imports only api and client of
// this module (plus internal helpers), never apiserver, store, wasmlet,
// sched or ctrl.
package meshproxy
