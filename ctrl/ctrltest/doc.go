// Package ctrltest simulates, through the real API, what the parts the
// controllers cooperate with do, so controllers can be tested against a
// real apiserver before real nodes and the real scheduler exist:
//
//   - Node acts as a wasmlet: it registers a Node, renews its Lease (or
//     stops, to simulate a partition or a crash), marks the pods bound to
//     it Running and Ready (or not, or finished), and removes its pods that
//     are being deleted after a delay.
//   - Binder acts as the scheduler: it binds unbound pods round-robin to
//     Ready nodes without a NoExecute taint.
//
// Both act only through the client, with the node's own credentials for
// Node, so they exercise the same authorization a wasmlet does.
// It imports only api, client and ctrl.
package ctrltest
