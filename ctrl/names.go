package ctrl

import (
	"strconv"
	"time"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// StaleCountRequeue is how soon an owner whose count of its pods was
// stale (FreePodNames) is reconciled again, if its pods' events have not
// done it first.
const StaleCountRequeue = 50 * time.Millisecond

// PodGetter finds a cached pod (a *client.Informer of pods).
type PodGetter interface {
	Get(namespace, name string) (*waskv1.Object, bool)
}

// FreePodNames returns the n lowest names prefix-0, prefix-1, ... that no
// pod in the cache has, for an owner that names its pods by index (a
// ReplicaSet, a Job). known are the owner's pods the caller counted.
//
// stale reports that the cache holds a pod of the owner that known lacks:
// it arrived after the caller counted, so the count is short and creating
// now would add a pod too many (under the next free name, where
// AlreadyExists cannot catch it). Count again instead; the pod's own
// event re-queues the owner.
func FreePodNames(pods PodGetter, namespace, prefix, ownerUID string, known []*waskv1.Pod, n int) (names []string, stale bool) {
	counted := make(map[string]bool, len(known))
	for _, p := range known {
		counted[p.GetMetadata().GetName()] = true
	}
	names = make([]string, 0, n)
	for i := 0; len(names) < n; i++ {
		name := prefix + "-" + strconv.Itoa(i)
		o, taken := pods.Get(namespace, name)
		switch {
		case !taken:
			names = append(names, name)
		case !counted[name] && IsControlledBy(o.GetPod().GetMetadata(), ownerUID):
			return nil, true
		}
	}
	return names, false
}
