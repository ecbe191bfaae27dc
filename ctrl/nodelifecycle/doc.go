// Package nodelifecycle is the node lifecycle controller: it watches the
// nodes' Leases and evicts the pods of nodes that stopped renewing them.
//
//	          lease renewed within GracePeriod
//	Ready ◀──────────────────────────────────────────┐
//	  │ no renewal seen for GracePeriod (default 3 s)  │
//	  ▼                                                │
//	NotReady: condition Ready=Unknown (NodeLeaseExpired),
//	taint wask.dev/unreachable:NoExecute ─────────────┘ (taint removed)
//	  │ per pod: its toleration of the taint, or DefaultToleration (2 s)
//	  ▼
//	pod evicted (deleted at once: its node is not there to stop it;
//	its owner makes a replacement elsewhere)
//
// Renewals are judged by this controller's own clock: the time it first
// saw each new revision of a Lease, never the renew time the node wrote,
// so clock skew between machines does not matter.
//
// Evictions are rate-limited per node (a token bucket, EvictionRate nodes
// per second). When more than UnhealthyThreshold (default 55%) of the
// nodes are NotReady at once, the likely cause is a partition of the
// control plane from the nodes, not node failures: the controller evicts
// nothing and says so in an Event (reason EvictionHalted) until fewer are
// NotReady. A node that comes back after its pods were replaced stops them
// itself: it runs only pods still bound to it (the wasmlet's fencing).
//
// It imports only api, client and ctrl.
package nodelifecycle
