package waskv1

import (
	"path/filepath"
	"strings"
)

// HostPathAllowed reports whether path, a host directory a pod mounts
// (spec.mounts[].hostPath), is one of allowed (a node's
// capabilities.hostPaths) or under one. Both are cleaned first, so
// "/data/../etc" is not under "/data". "/" allows everything.
func HostPathAllowed(allowed []string, path string) bool {
	path = filepath.Clean(path)
	for _, a := range allowed {
		a = filepath.Clean(a)
		if path == a || a == string(filepath.Separator) || strings.HasPrefix(path, a+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
