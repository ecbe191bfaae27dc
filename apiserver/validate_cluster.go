package apiserver

import (
	"fmt"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

func validateService(svc *waskv1.Service, errs *fieldErrors) {
	s := svc.GetSpec()
	validateLabels(s.GetSelector(), "spec.selector", errs)
	names := map[string]bool{}
	ports := map[int32]bool{}
	for i, p := range s.GetPorts() {
		pp := fmt.Sprintf("spec.ports[%d]", i)
		if p.GetName() != "" || len(s.GetPorts()) > 1 {
			if why := checkDNSLabel(p.GetName()); why != "" {
				if p.GetName() == "" {
					why = "required when there is more than one port"
				}
				errs.add(pp+".name", "%s", why)
			} else if names[p.GetName()] {
				errs.add(pp+".name", "duplicate %q", p.GetName())
			}
			names[p.GetName()] = true
		}
		if p.GetPort() < 1 || p.GetPort() > 65535 {
			errs.add(pp+".port", "must be 1 to 65535, not %d", p.GetPort())
		} else if ports[p.GetPort()] {
			errs.add(pp+".port", "duplicate %d", p.GetPort())
		}
		ports[p.GetPort()] = true
		if tp := p.GetTargetPort(); tp != "" {
			if n, ok := atoi(tp); ok {
				if n < 1 || n > 65535 {
					errs.add(pp+".targetPort", "must be 1 to 65535 or a port name, not %s", tp)
				}
			} else if why := checkDNSLabel(tp); why != "" {
				errs.add(pp+".targetPort", "must be a port number or name: %s", why)
			}
		}
	}
	if pp := s.GetPathPrefix(); pp != "" && pp[0] != '/' {
		errs.add("spec.pathPrefix", "must start with '/', not %q", pp)
	}
	if lb := s.GetLoadBalancing(); lb != "" {
		errs.check("spec.loadBalancing", checkOneOf(lb, "RoundRobin", "LeastRequest"))
	}
	if sa := s.GetSessionAffinity(); sa != "" {
		errs.check("spec.sessionAffinity", checkOneOf(sa, "None", "ClientIP"))
	}
	validateConditions(svc.GetStatus().GetConditions(), "status.conditions", errs)
}

// atoi parses a plain decimal integer.
func atoi(s string) (int, bool) {
	n := 0
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func validateEndpoints(e *waskv1.Endpoints, errs *fieldErrors) {
	for i, a := range e.GetAddresses() {
		errs.check(fmt.Sprintf("addresses[%d].podName", i), checkDNSSubdomain(a.GetPodName()))
		if a.GetNodeName() != "" {
			errs.check(fmt.Sprintf("addresses[%d].nodeName", i), checkDNSSubdomain(a.GetNodeName()))
		}
	}
	for i, p := range e.GetPorts() {
		if p.GetPort() < 1 || p.GetPort() > 65535 {
			errs.add(fmt.Sprintf("ports[%d].port", i), "must be 1 to 65535, not %d", p.GetPort())
		}
	}
}

func validateNode(n *waskv1.Node, errs *fieldErrors) {
	seen := map[string]bool{}
	for i, t := range n.GetSpec().GetTaints() {
		tp := fmt.Sprintf("spec.taints[%d]", i)
		errs.check(tp+".key", checkQualifiedName(t.GetKey()))
		errs.check(tp+".value", checkLabelValue(t.GetValue()))
		if t.GetEffect() == "" {
			errs.add(tp+".effect", "required (one of \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\")")
		} else {
			errs.check(tp+".effect", checkOneOf(t.GetEffect(), taintEffects...))
		}
		if seen[t.GetKey()+"\x00"+t.GetEffect()] {
			errs.add(tp, "duplicate taint %s:%s", t.GetKey(), t.GetEffect())
		}
		seen[t.GetKey()+"\x00"+t.GetEffect()] = true
	}
	st := n.GetStatus()
	for _, which := range []string{"capacity", "allocatable"} {
		m := st.GetCapacity()
		if which == "allocatable" {
			m = st.GetAllocatable()
		}
		for _, key := range sortedKeys(m) {
			if _, err := parseQuantity(m[key]); err != nil {
				errs.add(fmt.Sprintf("status.%s[%s]", which, key), "%v", err)
			}
		}
	}
	for i, m := range st.GetCapabilities().GetModes() {
		errs.check(fmt.Sprintf("status.capabilities.modes[%d]", i), checkOneOf(m, podModes...))
	}
	validateConditions(st.GetConditions(), "status.conditions", errs)
}

func validateLease(l *waskv1.Lease, errs *fieldErrors) {
	s := l.GetSpec()
	if s.GetLeaseDurationSeconds() < 0 {
		errs.add("spec.leaseDurationSeconds", "must not be negative")
	}
	if s.GetHolderIdentity() != "" && s.GetLeaseDurationSeconds() == 0 {
		errs.add("spec.leaseDurationSeconds", "required (positive) when holderIdentity is set")
	}
	if s.GetLeaseTransitions() < 0 {
		errs.add("spec.leaseTransitions", "must not be negative")
	}
}

func validateEvent(e *waskv1.Event, errs *fieldErrors) {
	io := e.GetInvolvedObject()
	if _, ok := kinds[io.GetKind()]; !ok {
		errs.add("involvedObject.kind", "must be a kind (e.g. Pod), not %q", io.GetKind())
	}
	errs.check("involvedObject.name", checkDNSSubdomain(io.GetName()))
	if io.GetNamespace() != "" {
		errs.check("involvedObject.namespace", checkDNSLabel(io.GetNamespace()))
	}
	if e.GetReason() != "" && !camelCaseRe.MatchString(e.GetReason()) {
		errs.add("reason", "must be a CamelCase word, not %q", e.GetReason())
	}
	if e.GetType() != "" {
		errs.check("type", checkOneOf(e.GetType(), "Normal", "Warning"))
	}
	if e.GetCount() < 0 {
		errs.add("count", "must not be negative")
	}
}

func validateModule(m *waskv1.Module, errs *fieldErrors) {
	if d := m.GetSpec().GetDigest(); d == "" {
		errs.add("spec.digest", "required")
	} else if !digestRe.MatchString(d) {
		errs.add("spec.digest", "%q is not a digest (\"sha256:\" and 64 lowercase hex digits)", d)
	}
	for i, mode := range m.GetStatus().GetModes() {
		errs.check(fmt.Sprintf("status.modes[%d]", i), checkOneOf(mode, podModes...))
	}
}

func validateNamespace(n *waskv1.Namespace, errs *fieldErrors) {
	if ph := n.GetStatus().GetPhase(); ph != "" {
		errs.check("status.phase", checkOneOf(ph, "Active", "Terminating"))
	}
}
