// Package job is the Job controller: it runs a Job's "command" pods to
// completion.
//
//   - It keeps min(parallelism, completions - succeeded) pods active, named
//     "<job>-<n>" with the lowest free n (finished pods stay, as the
//     record of what ran), until completions pods have succeeded: then the
//     Job is Complete.
//   - More than backoffLimit failed pods, or activeDeadlineSeconds since
//     the start, and the Job is Failed (reason BackoffLimitExceeded or
//     DeadlineExceeded); its active pods are deleted.
//   - ttlSecondsAfterFinished after it finished, the Job is deleted (its
//     pods follow through the garbage collector).
//
// It imports only api, client and ctrl.
package job
