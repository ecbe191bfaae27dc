// Package ctrl is the framework wask's controllers are built on, and the
// home of the controllers themselves (one subpackage each: replicaset,
// deployment, gc, namespace, job, endpoints, nodelifecycle) and of the
// manager that runs them (ctrl/manager).
//
// The framework gives each controller:
//
//   - Informers: shared list+watch caches (client.Informer), one per kind,
//     with an index of dependents by owner uid and a read-your-writes
//     barrier (WaitForRevision) so a controller never acts twice on a cache
//     that has not yet seen its own writes;
//   - Controller: a client.Queue of keys worked by a few goroutines calling
//     a level-based ReconcileFunc, with per-controller metrics (queue depth,
//     reconcile latency, errors);
//   - Recorder: Events folded by count under deterministic names;
//   - Elector: leader election through a Lease, so that of several managers
//     only one acts.
//
// Controllers are level-based and idempotent: a reconcile reads the desired
// and the actual state and converges, whatever event woke it. Objects they
// create have deterministic names, so a restart never duplicates anything.
// Objects from an informer's cache are never modified: they are cloned
// first.
//
// ctrl and its subpackages import only api and client of this module (never
// apiserver, store, sched, wasmlet or meshproxy).
package ctrl
