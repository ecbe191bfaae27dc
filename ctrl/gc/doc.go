// Package gc is the garbage collector: it deletes objects whose owners are
// all gone, and carries out the propagation policies of Delete.
//
//   - Background (default): the owner is deleted at once; each dependent
//     then has no live owner (none of its owner references names a live
//     object with that uid) and is deleted, and so on down the tree.
//   - Foreground: the owner waits with the finalizer
//     "wask.dev/foreground-deletion"; the collector deletes its dependents
//     (foreground too) and removes the finalizer once no dependent with
//     blockOwnerDeletion is left.
//   - Orphan: the owner waits with the finalizer "wask.dev/orphan"; the
//     collector removes the owner from its dependents' owner references,
//     then removes the finalizer.
//
// An owner missing from the cache is confirmed missing with a live read
// before anything is deleted, so a cache that lags never deletes a live
// object's dependents. Other finalizers are left to their owners: an
// object with them goes away only when they are removed.
//
// It imports only api, client and ctrl.
package gc
