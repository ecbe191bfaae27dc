package apiserver

import (
	"fmt"
	"path"
	"regexp"
	"strconv"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

var digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Pod modes, restart policies and taint effects.
var (
	podModes       = []string{"command", "http-cgi", "http-reactor"}
	restartPolicys = []string{"Always", "OnFailure", "Never"}
	taintEffects   = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}
	podPhases      = []string{"Pending", "Running", "Succeeded", "Failed", "Unknown"}
)

func validatePod(p *waskv1.Pod, errs *fieldErrors) {
	validatePodSpec(p.GetSpec(), "spec", errs)
	st := p.GetStatus()
	if st.GetPhase() != "" {
		errs.check("status.phase", checkOneOf(st.GetPhase(), podPhases...))
	}
	validateConditions(st.GetConditions(), "status.conditions", errs)
}

// validatePodSpec checks a pod spec (of a Pod, or of a template under p).
func validatePodSpec(s *waskv1.PodSpec, p string, errs *fieldErrors) {
	switch m := s.GetModule(); {
	case m == "":
		errs.add(p+".module", "required")
	case len(m) > 7 && m[:7] == "sha256:":
		if !digestRe.MatchString(m) {
			errs.add(p+".module", "%q is not a digest (\"sha256:\" and 64 lowercase hex digits)", m)
		}
	default:
		if checkDNSSubdomain(m) != "" {
			errs.add(p+".module", "must be a digest (\"sha256:<64 hex digits>\") or a Module name, not %q (a local file is pushed by the CLI first)", m)
		}
	}
	if s.GetMode() == "" {
		errs.add(p+".mode", "required (one of \"command\", \"http-cgi\", \"http-reactor\")")
	} else {
		errs.check(p+".mode", checkOneOf(s.GetMode(), podModes...))
	}
	seen := map[string]bool{}
	for i, e := range s.GetEnv() {
		ep := fmt.Sprintf("%s.env[%d].name", p, i)
		switch {
		case e.GetName() == "":
			errs.add(ep, "required")
		case !envNameRe.MatchString(e.GetName()):
			errs.add(ep, "%q must consist of letters, digits, '_', '-' or '.', not starting with a digit", e.GetName())
		case seen[e.GetName()]:
			errs.add(ep, "duplicate %q", e.GetName())
		}
		seen[e.GetName()] = true
	}
	validateResources(s.GetResources(), p+".resources", errs)
	if rp := s.GetRestartPolicy(); rp != "" {
		errs.check(p+".restartPolicy", checkOneOf(rp, restartPolicys...))
	}
	httpMode := s.GetMode() == "http-cgi" || s.GetMode() == "http-reactor"
	probes := []struct {
		name  string
		probe *waskv1.Probe
	}{{"readinessProbe", s.GetReadinessProbe()}, {"livenessProbe", s.GetLivenessProbe()}}
	for _, pr := range probes {
		name, probe := pr.name, pr.probe
		if probe == nil {
			continue
		}
		pp := p + "." + name
		if !httpMode && s.GetMode() != "" {
			errs.add(pp, "only http-cgi and http-reactor pods can be probed")
		}
		validateProbe(probe, pp, errs)
	}
	validateLabels(s.GetNodeSelector(), p+".nodeSelector", errs)
	validateAffinity(s.GetAffinity(), p+".affinity", errs)
	for i, t := range s.GetTolerations() {
		validateToleration(t, fmt.Sprintf("%s.tolerations[%d]", p, i), errs)
	}
	if s.GetNodeName() != "" {
		errs.check(p+".nodeName", checkDNSSubdomain(s.GetNodeName()))
	}
	if s.GetPriorityClassName() != "" {
		errs.check(p+".priorityClassName", checkDNSSubdomain(s.GetPriorityClassName()))
	}
	guestPaths := map[string]bool{}
	for i, m := range s.GetMounts() {
		mp := fmt.Sprintf("%s.mounts[%d]", p, i)
		if !path.IsAbs(m.GetHostPath()) {
			errs.add(mp+".hostPath", "must be an absolute path, not %q", m.GetHostPath())
		}
		if !path.IsAbs(m.GetPath()) {
			errs.add(mp+".path", "must be an absolute path, not %q", m.GetPath())
		} else if guestPaths[path.Clean(m.GetPath())] {
			errs.add(mp+".path", "duplicate %q", m.GetPath())
		}
		guestPaths[path.Clean(m.GetPath())] = true
	}
	for i, o := range s.GetOutbound() {
		op := fmt.Sprintf("%s.outbound[%d]", p, i)
		errs.check(op+".service", checkDNSLabel(o.GetService()))
		if o.GetNamespace() != "" {
			errs.check(op+".namespace", checkDNSLabel(o.GetNamespace()))
		}
	}
	errs.check(p+".terminationGracePeriod", checkDuration(s.GetTerminationGracePeriod()))
}

func validateResources(r *waskv1.ResourceRequirements, p string, errs *fieldErrors) {
	for _, which := range []string{"requests", "limits"} {
		m := r.GetRequests()
		if which == "limits" {
			m = r.GetLimits()
		}
		for _, key := range sortedKeys(m) {
			v := m[key]
			kp := fmt.Sprintf("%s.%s[%s]", p, which, key)
			switch key {
			case "memory", "cpu":
				if _, err := parseQuantity(v); err != nil {
					errs.add(kp, "%v", err)
				}
			case "timeout":
				if which == "requests" {
					errs.add(kp, "only allowed in limits")
				} else if v == "" {
					errs.add(kp, "required")
				} else {
					errs.check(kp, checkDuration(v))
				}
			case "concurrency":
				if which == "requests" {
					errs.add(kp, "only allowed in limits")
				} else if n, err := strconv.Atoi(v); err != nil || n < 1 {
					errs.add(kp, "must be a positive integer, not %q", v)
				}
			default:
				errs.add(kp, "unknown resource (known: memory, cpu, timeout, concurrency)")
			}
		}
	}
	for _, key := range []string{"memory", "cpu"} {
		req, okr := r.GetRequests()[key]
		lim, okl := r.GetLimits()[key]
		if !okr || !okl {
			continue
		}
		rq, err1 := parseQuantity(req)
		lq, err2 := parseQuantity(lim)
		if err1 == nil && err2 == nil && lq.Cmp(rq) < 0 {
			errs.add(fmt.Sprintf("%s.limits[%s]", p, key), "%s is less than the request %s", lim, req)
		}
	}
}

func validateProbe(pr *waskv1.Probe, p string, errs *fieldErrors) {
	switch {
	case pr.GetHttpGet() == nil && pr.GetCall() == nil:
		errs.add(p+".httpGet", "required (or call)")
	case pr.GetHttpGet() != nil && pr.GetCall() != nil:
		errs.add(p+".call", "httpGet and call are exclusive: set one")
	case pr.GetCall() != nil:
		if pr.GetCall().GetExport() == "" {
			errs.add(p+".call.export", "required")
		}
	default:
		if path := pr.GetHttpGet().GetPath(); path != "" && path[0] != '/' {
			errs.add(p+".httpGet.path", "must start with '/', not %q", path)
		}
		if pr.GetHttpGet().Port != nil {
			if port := pr.GetHttpGet().GetPort(); port < 1 || port > 65535 {
				errs.add(p+".httpGet.port", "must be 1 to 65535, not %d", port)
			}
		}
	}
	errs.check(p+".initialDelay", checkDuration(pr.GetInitialDelay()))
	errs.check(p+".period", checkDuration(pr.GetPeriod()))
	errs.check(p+".timeout", checkDuration(pr.GetTimeout()))
	if pr.GetSuccessThreshold() < 0 {
		errs.add(p+".successThreshold", "must not be negative")
	}
	if pr.GetFailureThreshold() < 0 {
		errs.add(p+".failureThreshold", "must not be negative")
	}
}

func validateAffinity(a *waskv1.Affinity, p string, errs *fieldErrors) {
	na := a.GetNodeAffinity()
	for i, t := range na.GetRequired() {
		validateNodeSelectorTerm(t, fmt.Sprintf("%s.nodeAffinity.required[%d]", p, i), errs)
	}
	for i, t := range na.GetPreferred() {
		tp := fmt.Sprintf("%s.nodeAffinity.preferred[%d]", p, i)
		if t.GetWeight() < 1 || t.GetWeight() > 100 {
			errs.add(tp+".weight", "must be 1 to 100, not %d", t.GetWeight())
		}
		validateNodeSelectorTerm(t.GetPreference(), tp+".preference", errs)
	}
}

func validateNodeSelectorTerm(t *waskv1.NodeSelectorTerm, p string, errs *fieldErrors) {
	for i, e := range t.GetMatchExpressions() {
		ep := fmt.Sprintf("%s.matchExpressions[%d]", p, i)
		errs.check(ep+".key", checkQualifiedName(e.GetKey()))
		switch e.GetOperator() {
		case "In", "NotIn":
			if len(e.GetValues()) == 0 {
				errs.add(ep+".values", "required for operator %s", e.GetOperator())
			}
		case "Exists", "DoesNotExist":
			if len(e.GetValues()) != 0 {
				errs.add(ep+".values", "must be empty for operator %s", e.GetOperator())
			}
		case "Gt", "Lt":
			if len(e.GetValues()) != 1 {
				errs.add(ep+".values", "operator %s takes exactly one integer value", e.GetOperator())
			} else if _, err := strconv.ParseInt(e.GetValues()[0], 10, 64); err != nil {
				errs.add(ep+".values[0]", "must be an integer, not %q", e.GetValues()[0])
			}
		default:
			errs.add(ep+".operator", "%s", checkOneOf(e.GetOperator(), "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"))
		}
	}
}

func validateToleration(t *waskv1.Toleration, p string, errs *fieldErrors) {
	switch t.GetOperator() {
	case "", "Equal":
		if t.GetKey() == "" {
			errs.add(p+".key", "required unless operator is Exists")
		}
	case "Exists":
		if t.GetValue() != "" {
			errs.add(p+".value", "must be empty for operator Exists")
		}
	default:
		errs.add(p+".operator", "%s", checkOneOf(t.GetOperator(), "Equal", "Exists"))
	}
	if t.GetKey() != "" {
		errs.check(p+".key", checkQualifiedName(t.GetKey()))
	}
	errs.check(p+".value", checkLabelValue(t.GetValue()))
	if t.GetEffect() != "" {
		errs.check(p+".effect", checkOneOf(t.GetEffect(), taintEffects...))
	}
	if t.TolerationSeconds != nil && t.GetEffect() != "NoExecute" {
		errs.add(p+".tolerationSeconds", "only allowed with effect NoExecute")
	}
}
