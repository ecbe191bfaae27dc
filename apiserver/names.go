package apiserver

import (
	"regexp"
	"strings"
)

// Name and label syntax, as in Kubernetes.

var (
	dns1123LabelRe     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123SubdomainRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	qualifiedNameRe    = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	envNameRe          = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
	camelCaseRe        = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
)

// checkDNSLabel returns why s is not a DNS-1123 label, or "".
func checkDNSLabel(s string) string {
	switch {
	case s == "":
		return "required"
	case len(s) > 63:
		return "must be at most 63 characters"
	case !dns1123LabelRe.MatchString(s):
		return "must be a DNS-1123 label (lowercase alphanumerics and '-', starting and ending alphanumeric)"
	}
	return ""
}

// checkDNSSubdomain returns why s is not a DNS-1123 subdomain, or "".
func checkDNSSubdomain(s string) string {
	switch {
	case s == "":
		return "required"
	case len(s) > 253:
		return "must be at most 253 characters"
	case !dns1123SubdomainRe.MatchString(s):
		return "must be a DNS-1123 subdomain (lowercase alphanumerics, '-' and '.', starting and ending alphanumeric)"
	}
	return ""
}

// checkQualifiedName returns why s is not a label (or annotation, taint,
// finalizer) key: an optional DNS subdomain prefix and '/', then a name of
// at most 63 characters.
func checkQualifiedName(s string) string {
	if s == "" {
		return "required"
	}
	name := s
	if prefix, rest, ok := strings.Cut(s, "/"); ok {
		if prefix == "" {
			return "prefix before '/' must not be empty"
		}
		if why := checkDNSSubdomain(prefix); why != "" {
			return "prefix " + why
		}
		name = rest
	}
	switch {
	case name == "":
		return "name part must not be empty"
	case len(name) > 63:
		return "name part must be at most 63 characters"
	case !qualifiedNameRe.MatchString(name):
		return "name part must consist of alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
	}
	return ""
}

// checkLabelValue returns why s is not a label value, or "".
func checkLabelValue(s string) string {
	switch {
	case s == "":
		return ""
	case len(s) > 63:
		return "must be at most 63 characters"
	case !qualifiedNameRe.MatchString(s):
		return "must be empty or consist of alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
	}
	return ""
}
