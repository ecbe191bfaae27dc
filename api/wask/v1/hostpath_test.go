package waskv1

import "testing"

func TestHostPathAllowed(t *testing.T) {
	for _, c := range []struct {
		allowed []string
		path    string
		want    bool
	}{
		{nil, "/data", false},
		{[]string{"/data"}, "/data", true},
		{[]string{"/data"}, "/data/x/y", true},
		{[]string{"/data/"}, "/data/x", true},
		{[]string{"/data"}, "/database", false},
		{[]string{"/data"}, "/data/../etc", false},
		{[]string{"/data"}, "/", false},
		{[]string{"/"}, "/etc", true},
		{[]string{"/srv", "/tmp"}, "/tmp/t1", true},
	} {
		if got := HostPathAllowed(c.allowed, c.path); got != c.want {
			t.Errorf("HostPathAllowed(%q, %q) = %v, want %v", c.allowed, c.path, got, c.want)
		}
	}
}
