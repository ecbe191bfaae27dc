// Package deployment is the Deployment controller: it rolls a Deployment's
// pod template out through ReplicaSets, one per template.
//
// The ReplicaSet of a template is named "<deployment>-<hash>", where hash
// is a hash of the template (and of status.collisionCount), and carries the
// label pod-template-hash=<hash> in its selector and template, so the pods
// of two ReplicaSets never overlap. Each ReplicaSet records the revision it
// was last rolled out as in the annotation deployment.wask.dev/revision;
// rolling back (`wask rollout undo`) copies an old ReplicaSet's template
// into the Deployment, which makes that ReplicaSet the new one again, with
// the next revision.
//
// RollingUpdate keeps at most replicas+maxSurge pods and at least
// replicas-maxUnavailable available ones; Recreate scales every old
// ReplicaSet to zero and waits for their pods to be gone before scaling the
// new one up. Condition Progressing turns False (reason
// ProgressDeadlineExceeded) when a rollout makes no progress for
// progressDeadlineSeconds. Old ReplicaSets scaled to zero are kept for
// rollback, at most revisionHistoryLimit of them.
//
// It imports only api, client and ctrl.
package deployment
