package apiserver

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// labelSelector is a parsed label selector: all requirements must hold.
// The zero value selects everything.
type labelSelector []labelRequirement

// labelRequirement is one test on one label.
type labelRequirement struct {
	key string
	// op is one of "=", "!=", "in", "notin", "exists", "!".
	op     string
	values []string
}

func (s labelSelector) empty() bool { return len(s) == 0 }

// matches reports whether labels satisfy every requirement.
func (s labelSelector) matches(labels map[string]string) bool {
	for _, r := range s {
		v, ok := labels[r.key]
		switch r.op {
		case "=":
			if !ok || v != r.values[0] {
				return false
			}
		case "!=":
			if ok && v == r.values[0] {
				return false
			}
		case "in":
			if !ok || !slices.Contains(r.values, v) {
				return false
			}
		case "notin":
			if ok && slices.Contains(r.values, v) {
				return false
			}
		case "exists":
			if !ok {
				return false
			}
		case "!":
			if ok {
				return false
			}
		}
	}
	return true
}

var setRequirementRe = regexp.MustCompile(`^(\S+)\s+(in|notin)\s*\((.*)\)$`)

// parseLabelSelector parses Kubernetes label selector syntax:
// "app=echo,tier!=db,env in (a,b),env notin (c),release,!canary".
func parseLabelSelector(s string) (labelSelector, error) {
	var sel labelSelector
	for _, part := range splitTopLevel(s) {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("empty requirement in %q", s)
		}
		var r labelRequirement
		if m := setRequirementRe.FindStringSubmatch(part); m != nil {
			r = labelRequirement{key: m[1], op: m[2]}
			for v := range strings.SplitSeq(m[3], ",") {
				v = strings.TrimSpace(v)
				if v == "" {
					continue
				}
				if why := checkLabelValue(v); why != "" {
					return nil, fmt.Errorf("value %q: %s", v, why)
				}
				r.values = append(r.values, v)
			}
			if len(r.values) == 0 {
				return nil, fmt.Errorf("%q: %s needs at least one value", part, m[2])
			}
		} else if key, ok := strings.CutPrefix(part, "!"); ok && !strings.Contains(part, "=") {
			r = labelRequirement{key: strings.TrimSpace(key), op: "!"}
		} else if key, val, ok := strings.Cut(part, "!="); ok {
			r = labelRequirement{key: strings.TrimSpace(key), op: "!=", values: []string{strings.TrimSpace(val)}}
		} else if key, val, ok := strings.Cut(part, "=="); ok {
			r = labelRequirement{key: strings.TrimSpace(key), op: "=", values: []string{strings.TrimSpace(val)}}
		} else if key, val, ok := strings.Cut(part, "="); ok {
			r = labelRequirement{key: strings.TrimSpace(key), op: "=", values: []string{strings.TrimSpace(val)}}
		} else if strings.ContainsAny(part, " ()") {
			return nil, fmt.Errorf("%q is not a requirement (key, !key, key=value, key!=value, key in (v,...), key notin (v,...))", part)
		} else {
			r = labelRequirement{key: part, op: "exists"}
		}
		if why := checkQualifiedName(r.key); why != "" {
			return nil, fmt.Errorf("key %q: %s", r.key, why)
		}
		if r.op == "=" || r.op == "!=" {
			if why := checkLabelValue(r.values[0]); why != "" {
				return nil, fmt.Errorf("value %q: %s", r.values[0], why)
			}
		}
		sel = append(sel, r)
	}
	return sel, nil
}

// splitTopLevel splits s at the commas outside parentheses. An empty s
// gives no parts.
func splitTopLevel(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var parts []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// selectorFromProto converts a LabelSelector message; errors name the
// field under path.
func selectorFromProto(ls *waskv1.LabelSelector, path string, errs *fieldErrors) labelSelector {
	var sel labelSelector
	for _, k := range sortedKeys(ls.GetMatchLabels()) {
		v := ls.GetMatchLabels()[k]
		errs.check(path+".matchLabels["+k+"]", checkQualifiedName(k))
		errs.check(path+".matchLabels["+k+"]", checkLabelValue(v))
		sel = append(sel, labelRequirement{key: k, op: "=", values: []string{v}})
	}
	for i, e := range ls.GetMatchExpressions() {
		p := fmt.Sprintf("%s.matchExpressions[%d]", path, i)
		errs.check(p+".key", checkQualifiedName(e.GetKey()))
		for j, v := range e.GetValues() {
			errs.check(fmt.Sprintf("%s.values[%d]", p, j), checkLabelValue(v))
		}
		switch e.GetOperator() {
		case "In", "NotIn":
			if len(e.GetValues()) == 0 {
				errs.add(p+".values", "required for operator %s", e.GetOperator())
			}
			sel = append(sel, labelRequirement{key: e.GetKey(), op: strings.ToLower(e.GetOperator()), values: e.GetValues()})
		case "Exists", "DoesNotExist":
			if len(e.GetValues()) != 0 {
				errs.add(p+".values", "must be empty for operator %s", e.GetOperator())
			}
			op := "exists"
			if e.GetOperator() == "DoesNotExist" {
				op = "!"
			}
			sel = append(sel, labelRequirement{key: e.GetKey(), op: op})
		default:
			errs.add(p+".operator", "must be one of In, NotIn, Exists, DoesNotExist, not %q", e.GetOperator())
		}
	}
	return sel
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
