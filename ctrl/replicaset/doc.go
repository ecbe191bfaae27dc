// Package replicaset is the ReplicaSet controller: it keeps spec.replicas
// pods of a ReplicaSet's template, owned by the ReplicaSet (controller
// owner reference), and reports how many there are, are ready and are
// available in its status.
//
// Pods are named "<replicaset>-<n>" with the lowest n not taken, so a
// controller that restarts, or reconciles on a cache that lags its own
// writes, re-creates no pod (the second Create fails with AlreadyExists).
// When scaling down it deletes first the pods that matter least: unbound,
// then pending, then not ready, then the newest.
//
// It imports only api, client and ctrl.
package replicaset
