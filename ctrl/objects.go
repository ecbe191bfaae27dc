package ctrl

import (
	"context"
	"fmt"
	"slices"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
)

// Selects reports whether the label selector s matches labels. A nil or
// empty selector matches everything.
func Selects(s *waskv1.LabelSelector, labels map[string]string) bool {
	for k, v := range s.GetMatchLabels() {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, r := range s.GetMatchExpressions() {
		v, has := labels[r.GetKey()]
		switch r.GetOperator() {
		case "In":
			if !has || !slices.Contains(r.GetValues(), v) {
				return false
			}
		case "NotIn":
			if has && slices.Contains(r.GetValues(), v) {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		default:
			return false // the apiserver rejects other operators
		}
	}
	return true
}

// ControllerOf returns the controlling owner reference of an object, or
// nil.
func ControllerOf(md *waskv1.ObjectMeta) *waskv1.OwnerReference {
	for _, r := range md.GetOwnerReferences() {
		if r.GetController() {
			return r
		}
	}
	return nil
}

// IsControlledBy reports whether md's controller is the object with uid.
func IsControlledBy(md *waskv1.ObjectMeta, uid string) bool {
	r := ControllerOf(md)
	return r != nil && r.GetUid() == uid
}

// ControllerRef returns an owner reference making the object of kind with
// metadata owner the controller of a dependent, blocking the owner's
// foreground deletion.
func ControllerRef(kind string, owner *waskv1.ObjectMeta) *waskv1.OwnerReference {
	return &waskv1.OwnerReference{Kind: kind, Name: owner.GetName(), Uid: owner.GetUid(), Controller: true, BlockOwnerDeletion: true}
}

// Terminating reports whether an object has a deletion timestamp.
func Terminating(md *waskv1.ObjectMeta) bool { return md.GetDeletionTimestamp() != nil }

// Condition returns the condition of type typ, or nil.
func Condition(conds []*waskv1.Condition, typ string) *waskv1.Condition {
	for _, c := range conds {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

// PodReady reports whether a pod has condition Ready=True.
func PodReady(p *waskv1.Pod) bool {
	return Condition(p.GetStatus().GetConditions(), "Ready").GetStatus() == "True"
}

// PodAvailable reports whether a pod has been ready for minReady at now,
// and if it is ready but not yet available, how long until it is.
func PodAvailable(p *waskv1.Pod, minReady time.Duration, now time.Time) (bool, time.Duration) {
	c := Condition(p.GetStatus().GetConditions(), "Ready")
	if c.GetStatus() != "True" {
		return false, 0
	}
	if minReady <= 0 || c.GetLastTransitionTime() == nil {
		return true, 0
	}
	left := c.GetLastTransitionTime().AsTime().Add(minReady).Sub(now)
	return left <= 0, max(left, 0)
}

// PodFinished reports whether a pod's phase is Succeeded or Failed.
func PodFinished(p *waskv1.Pod) bool {
	ph := p.GetStatus().GetPhase()
	return ph == "Succeeded" || ph == "Failed"
}

// PodActive reports whether a pod counts towards its owner's replicas: not
// terminating and not finished.
func PodActive(p *waskv1.Pod) bool {
	return !Terminating(p.GetMetadata()) && !PodFinished(p)
}

// SetCondition sets the condition of type c.Type in conds, keeping its
// last_transition_time when the status did not change, and reports whether
// anything changed (besides last_update_time).
func SetCondition(conds *[]*waskv1.Condition, c *waskv1.Condition) bool {
	for i, old := range *conds {
		if old.GetType() != c.GetType() {
			continue
		}
		if old.GetStatus() == c.GetStatus() {
			c.LastTransitionTime = old.GetLastTransitionTime()
		}
		changed := old.GetStatus() != c.GetStatus() || old.GetReason() != c.GetReason() || old.GetMessage() != c.GetMessage()
		if !changed && c.LastUpdateTime == nil {
			c.LastUpdateTime = old.GetLastUpdateTime()
		}
		(*conds)[i] = c
		return changed
	}
	*conds = append(*conds, c)
	return true
}

// IgnoreNotFound returns nil for a NotFound error, else err.
func IgnoreNotFound(err error) error {
	if connect.CodeOf(err) == connect.CodeNotFound {
		return nil
	}
	return err
}

// IgnoreExists returns nil for an AlreadyExists error, else err.
func IgnoreExists(err error) error {
	if connect.CodeOf(err) == connect.CodeAlreadyExists {
		return nil
	}
	return err
}

// DeleteOptions are the options of Delete.
type DeleteOptions struct {
	// UID, if set, deletes only the object with this uid.
	UID string
	// Propagation: "" (Background), "Background", "Foreground" or "Orphan".
	Propagation string
	// GracePeriod, for pods: seconds to stop; nil: the pod's own.
	GracePeriod *int64
}

// Delete deletes an object and returns the revision of the write (empty if
// it was already gone). NotFound is not an error.
func Delete(ctx context.Context, c *client.Client, kind, namespace, name string, opts DeleteOptions) (string, error) {
	req := &waskv1.DeleteRequest{Kind: kind, Namespace: namespace, Name: name, PropagationPolicy: opts.Propagation, GracePeriodSeconds: opts.GracePeriod}
	if opts.UID != "" {
		req.Preconditions = &waskv1.Preconditions{Uid: opts.UID}
	}
	resp, err := c.Objects.Delete(ctx, connect.NewRequest(req))
	if connect.CodeOf(err) == connect.CodeNotFound {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("delete %s %s: %w", kind, Key(namespace, name), err)
	}
	return resp.Msg.GetObject().Metadata().GetRevision(), nil
}

// SetFailure sets condition ReplicaFailure=True (reason FailedWrite) with
// err's message in conds, or removes it when err is nil.
func SetFailure(conds *[]*waskv1.Condition, err error, now time.Time) {
	if err != nil {
		SetCondition(conds, &waskv1.Condition{Type: "ReplicaFailure", Status: "True", Reason: "FailedWrite", Message: err.Error(), LastTransitionTime: timestamppb.New(now)})
		return
	}
	*conds = slices.DeleteFunc(*conds, func(c *waskv1.Condition) bool { return c.GetType() == "ReplicaFailure" })
}
