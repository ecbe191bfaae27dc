package apiserver

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// fieldErrors collects "path: problem" messages.
type fieldErrors []string

func (e *fieldErrors) add(path, format string, args ...any) {
	*e = append(*e, path+": "+fmt.Sprintf(format, args...))
}

// check adds why under path unless it is empty.
func (e *fieldErrors) check(path, why string) {
	if why != "" {
		*e = append(*e, path+": "+why)
	}
}

// err returns the InvalidArgument error of the object, or nil:
// `pod "x": spec.module: required; spec.mode: ...`.
func (e fieldErrors) err(k *kindInfo, name string) error {
	if len(e) == 0 {
		return nil
	}
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s %q: %s", k.lowerName(), name, strings.Join(e, "; ")))
}

// maxAnnotationsSize bounds the total size of an object's annotations.
const maxAnnotationsSize = 256 << 10

// validate checks a whole object of kind k as it is about to be written
// (after defaults). It returns an InvalidArgument error naming each bad
// field, or nil.
func validate(k *kindInfo, m proto.Message) error {
	var errs fieldErrors
	apiVer, kind := k.typeMeta(m)
	if apiVer != "" && apiVer != apiVersion {
		errs.add("apiVersion", "must be %q, not %q", apiVersion, apiVer)
	}
	if kind != "" && kind != k.name {
		errs.add("kind", "must be %q (the object is a %s), not %q", k.name, k.name, kind)
	}
	md := k.meta(m)
	validateMeta(k, md, &errs)
	switch o := m.(type) {
	case *waskv1.Pod:
		validatePod(o, &errs)
	case *waskv1.ReplicaSet:
		validateReplicaSet(o, &errs)
	case *waskv1.Deployment:
		validateDeployment(o, &errs)
	case *waskv1.Job:
		validateJob(o, &errs)
	case *waskv1.Service:
		validateService(o, &errs)
	case *waskv1.Endpoints:
		validateEndpoints(o, &errs)
	case *waskv1.Node:
		validateNode(o, &errs)
	case *waskv1.Lease:
		validateLease(o, &errs)
	case *waskv1.Event:
		validateEvent(o, &errs)
	case *waskv1.Module:
		validateModule(o, &errs)
	case *waskv1.Namespace:
		validateNamespace(o, &errs)
	}
	return errs.err(k, md.GetName())
}

func validateMeta(k *kindInfo, md *waskv1.ObjectMeta, errs *fieldErrors) {
	if k.name == "Namespace" {
		errs.check("metadata.name", checkDNSLabel(md.GetName()))
	} else {
		errs.check("metadata.name", checkDNSSubdomain(md.GetName()))
	}
	if k.namespaced {
		errs.check("metadata.namespace", checkDNSLabel(md.GetNamespace()))
	} else if md.GetNamespace() != "" {
		errs.add("metadata.namespace", "must be empty: %s is cluster-scoped", k.name)
	}
	validateLabels(md.GetLabels(), "metadata.labels", errs)
	size := 0
	for _, key := range sortedKeys(md.GetAnnotations()) {
		errs.check("metadata.annotations["+key+"]", checkQualifiedName(key))
		size += len(key) + len(md.GetAnnotations()[key])
	}
	if size > maxAnnotationsSize {
		errs.add("metadata.annotations", "total size %d exceeds %d bytes", size, maxAnnotationsSize)
	}
	controllers := 0
	for i, ref := range md.GetOwnerReferences() {
		p := fmt.Sprintf("metadata.ownerReferences[%d]", i)
		if _, ok := kinds[ref.GetKind()]; !ok {
			errs.add(p+".kind", "must be a kind (e.g. ReplicaSet), not %q", ref.GetKind())
		}
		errs.check(p+".name", checkDNSSubdomain(ref.GetName()))
		if ref.GetUid() == "" {
			errs.add(p+".uid", "required")
		}
		if ref.GetController() {
			controllers++
		}
	}
	if controllers > 1 {
		errs.add("metadata.ownerReferences", "at most one may have controller: true")
	}
	for i, f := range md.GetFinalizers() {
		p := fmt.Sprintf("metadata.finalizers[%d]", i)
		errs.check(p, checkQualifiedName(f))
		if slices.Contains(md.GetFinalizers()[:i], f) {
			errs.add(p, "duplicate %q", f)
		}
	}
}

func validateLabels(labels map[string]string, path string, errs *fieldErrors) {
	for _, key := range sortedKeys(labels) {
		errs.check(path+"["+key+"]", checkQualifiedName(key))
		errs.check(path+"["+key+"]", checkLabelValue(labels[key]))
	}
}

// checkDuration returns why s is not a non-negative Go duration, or "".
// Empty is allowed (the default applies).
func checkDuration(s string) string {
	if s == "" {
		return ""
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Sprintf("%q is not a Go duration (e.g. \"5s\", \"1m30s\")", s)
	}
	if d < 0 {
		return "must not be negative"
	}
	return ""
}

// checkOneOf returns why v is not one of allowed, or "".
func checkOneOf(v string, allowed ...string) string {
	if slices.Contains(allowed, v) {
		return ""
	}
	var quoted []string
	for _, a := range allowed {
		if a != "" {
			quoted = append(quoted, fmt.Sprintf("%q", a))
		}
	}
	return fmt.Sprintf("must be one of %s, not %q", strings.Join(quoted, ", "), v)
}

func validateConditions(conds []*waskv1.Condition, path string, errs *fieldErrors) {
	for i, c := range conds {
		p := fmt.Sprintf("%s[%d]", path, i)
		if !camelCaseRe.MatchString(c.GetType()) {
			errs.add(p+".type", "must be a CamelCase name, not %q", c.GetType())
		}
		for _, prev := range conds[:i] {
			if prev.GetType() == c.GetType() {
				errs.add(p+".type", "duplicate %q", c.GetType())
			}
		}
		errs.check(p+".status", checkOneOf(c.GetStatus(), "True", "False", "Unknown"))
	}
}
