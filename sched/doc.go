// Package sched is wask's scheduler: it places unbound pods on nodes.
//
// It owns two things:
//
//   - a pure core: a Framework (filter and score plugins with weights, built
//     from a Config) whose Schedule(snapshot, pod) returns the chosen node
//     with its score breakdown, or no node with a reason per node, and whose
//     Preempt finds lower-priority pods whose removal lets a pod fit. The
//     core reads only a Snapshot (nodes, the pods on them, modules) and is
//     deterministic for a snapshot and Config.Seed;
//   - a Scheduler whose Run(ctx) feeds the core from informers, keeps the
//     snapshot current (with the pods it assumed but has not yet seen
//     bound), queues unbound pods by priority with back-off for those that
//     do not fit, binds through the apiserver's Bind RPC (many pods per
//     call), and reports pods that cannot be placed with an Event and a
//     PodScheduled=False condition. With leader election, several
//     schedulers share a Lease and only its holder schedules.
//
// It imports only the api and client packages of this module: never the
// apiserver, the store, the controllers, the wasmlet or the mesh proxy.
package sched
