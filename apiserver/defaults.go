package apiserver

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// jobUIDLabel is the label a Job's default selector selects on.
const jobUIDLabel = "wask.dev/job-uid"

// defaultSpec fills the defaults of an object's desired state; it runs on
// Create and Update, before validation.
func defaultSpec(m proto.Message, now time.Time) {
	switch o := m.(type) {
	case *waskv1.Pod:
		defaultPodSpec(o.GetSpec())
	case *waskv1.ReplicaSet:
		defaultPodSpec(o.GetSpec().GetTemplate().GetSpec())
	case *waskv1.Deployment:
		defaultPodSpec(o.GetSpec().GetTemplate().GetSpec())
		if s := o.GetSpec(); s != nil {
			if s.Strategy == nil {
				s.Strategy = &waskv1.DeploymentStrategy{}
			}
			if s.Strategy.Type == "" {
				s.Strategy.Type = "RollingUpdate"
			}
		}
	case *waskv1.Node:
		for _, t := range o.GetSpec().GetTaints() {
			if t.GetEffect() == "NoExecute" && t.TimeAdded == nil {
				t.TimeAdded = timestamppb.New(now)
			}
		}
	}
}

func defaultPodSpec(s *waskv1.PodSpec) {
	if s != nil && s.RestartPolicy == "" {
		s.RestartPolicy = "Always"
	}
}

// defaultCreate fills what only Create sets: the initial status and the
// defaults that depend on the new uid.
func defaultCreate(k *kindInfo, m proto.Message, now time.Time) {
	k.clearStatus(m)
	switch o := m.(type) {
	case *waskv1.Pod:
		o.Status = &waskv1.PodStatus{Phase: "Pending"}
	case *waskv1.Namespace:
		o.Status = &waskv1.NamespaceStatus{Phase: "Active"}
	case *waskv1.Job:
		s := o.GetSpec()
		if s != nil && len(s.GetSelector().GetMatchLabels()) == 0 && len(s.GetSelector().GetMatchExpressions()) == 0 {
			uid := o.GetMetadata().GetUid()
			s.Selector = &waskv1.LabelSelector{MatchLabels: map[string]string{jobUIDLabel: uid}}
			if s.Template == nil {
				s.Template = &waskv1.PodTemplateSpec{}
			}
			if s.Template.Metadata == nil {
				s.Template.Metadata = &waskv1.ObjectMeta{}
			}
			if s.Template.Metadata.Labels == nil {
				s.Template.Metadata.Labels = map[string]string{}
			}
			s.Template.Metadata.Labels[jobUIDLabel] = uid
		}
	case *waskv1.Event:
		if o.Count == 0 {
			o.Count = 1
		}
		if o.FirstTimestamp == nil {
			o.FirstTimestamp = timestamppb.New(now)
		}
		if o.LastTimestamp == nil {
			o.LastTimestamp = o.FirstTimestamp
		}
	}
}
