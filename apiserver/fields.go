package apiserver

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// fieldSelector is a parsed field selector: all requirements must hold.
type fieldSelector []fieldRequirement

type fieldRequirement struct {
	field string
	value string
	not   bool // "!="
}

func (s fieldSelector) empty() bool { return len(s) == 0 }

// selectableFields lists the fields each kind can be selected by, besides
// metadata.name and metadata.namespace.
var selectableFields = map[string]map[string]func(proto.Message) string{
	"Pod": {
		"spec.nodeName": func(m proto.Message) string { return m.(*waskv1.Pod).GetSpec().GetNodeName() },
		"status.phase":  func(m proto.Message) string { return m.(*waskv1.Pod).GetStatus().GetPhase() },
	},
	"Event": {
		"involvedObject.kind":      func(m proto.Message) string { return m.(*waskv1.Event).GetInvolvedObject().GetKind() },
		"involvedObject.namespace": func(m proto.Message) string { return m.(*waskv1.Event).GetInvolvedObject().GetNamespace() },
		"involvedObject.name":      func(m proto.Message) string { return m.(*waskv1.Event).GetInvolvedObject().GetName() },
		"involvedObject.uid":       func(m proto.Message) string { return m.(*waskv1.Event).GetInvolvedObject().GetUid() },
	},
}

// parseFieldSelector parses "a=b,c!=d" ("==" is "=") for kind k.
func parseFieldSelector(k *kindInfo, s string) (fieldSelector, error) {
	var sel fieldSelector
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		var r fieldRequirement
		if f, v, ok := strings.Cut(part, "!="); ok {
			r = fieldRequirement{field: f, value: v, not: true}
		} else if f, v, ok := strings.Cut(part, "=="); ok {
			r = fieldRequirement{field: f, value: v}
		} else if f, v, ok := strings.Cut(part, "="); ok {
			r = fieldRequirement{field: f, value: v}
		} else {
			return nil, fmt.Errorf("%q is not a requirement (field=value, field==value or field!=value)", part)
		}
		r.field, r.value = strings.TrimSpace(r.field), strings.TrimSpace(r.value)
		if r.field != "metadata.name" && r.field != "metadata.namespace" {
			if _, ok := selectableFields[k.name][r.field]; !ok {
				return nil, fmt.Errorf("%s cannot be selected by field %q", k.lowerName(), r.field)
			}
		}
		sel = append(sel, r)
	}
	return sel, nil
}

// matches reports whether m, an object of kind k, satisfies every requirement.
func (s fieldSelector) matches(k *kindInfo, m proto.Message) bool {
	for _, r := range s {
		var v string
		switch r.field {
		case "metadata.name":
			v = k.meta(m).GetName()
		case "metadata.namespace":
			v = k.meta(m).GetNamespace()
		default:
			v = selectableFields[k.name][r.field](m)
		}
		if (v == r.value) == r.not {
			return false
		}
	}
	return true
}

// filter is a request's label and field selectors together.
type filter struct {
	labels labelSelector
	fields fieldSelector
}

func parseFilter(k *kindInfo, labels, fields string) (filter, error) {
	ls, err := parseLabelSelector(labels)
	if err != nil {
		return filter{}, invalidArgument("labelSelector: %v", err)
	}
	fs, err := parseFieldSelector(k, fields)
	if err != nil {
		return filter{}, invalidArgument("fieldSelector: %v", err)
	}
	return filter{labels: ls, fields: fs}, nil
}

func (f filter) empty() bool { return f.labels.empty() && f.fields.empty() }

func (f filter) matches(k *kindInfo, m proto.Message) bool {
	return f.labels.matches(k.meta(m).GetLabels()) && f.fields.matches(k, m)
}
