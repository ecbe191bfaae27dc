// Package wasmlet is wask's node agent, an embeddable library: it registers
// its Node, renews the node's Lease, runs the pods bound to the node as
// wazero sandboxes (through wasmlet/sandbox), reports their status in the
// kubelet's vocabulary, serves their logs, and hands HTTP requests to http
// pods in-process (Invoke, for the meshproxy).
//
// It reaches the cluster only through the client package and may import
// only api and client of this module (never apiserver, store, sched, ctrl
// or meshproxy); wazero is reached only through wasmlet/sandbox.
//
// The life of a pod on the node:
//
//	bound ──▶ fetch module (disk cache, Pull, digest check) ──▶ compile (once per node)
//	      ──▶ fence (still bound here?) ──▶ run ──▶ exit ──▶ restart policy:
//	                                         ▲               │ restart (back-off doubles)
//	                                         └───────────────┘
//	                                                         └▶ Succeeded / Failed
//	deleted (deletionTimestamp) ──▶ stop gracefully within the grace period ──▶ Delete(grace 0)
//
// Each pod is synced level-based: the desired state (the pod in the
// informer's cache) is compared with the actual one (the pod's runtime on
// this node) and converged; syncing twice does nothing more.
package wasmlet
