package apiserver

import "testing"

func TestLabelSelector(t *testing.T) {
	labels := map[string]string{"app": "echo", "tier": "web", "example.com/team": "a"}
	for _, tc := range []struct {
		sel     string
		matches bool
		invalid bool
	}{
		{"", true, false},
		{"app=echo", true, false},
		{"app==echo", true, false},
		{"app=db", false, false},
		{"app!=db", true, false},
		{"missing!=x", true, false},
		{"app in (db, echo)", true, false},
		{"app notin (echo)", false, false},
		{"missing notin (x)", true, false},
		{"tier", true, false},
		{"!tier", false, false},
		{"!missing", true, false},
		{"app=echo,tier=web,example.com/team=a", true, false},
		{"app=echo,tier=db", false, false},
		{" app = echo , tier ", true, false},
		{"app in ()", false, true},
		{"app in (", false, true},
		{"Bad Key", false, true},
		{"app=bad value", false, true},
		{"app,", false, true},
		{"/x=y", false, true},
	} {
		sel, err := parseLabelSelector(tc.sel)
		if tc.invalid {
			if err == nil {
				t.Errorf("%q: parsed, want an error", tc.sel)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.sel, err)
			continue
		}
		if got := sel.matches(labels); got != tc.matches {
			t.Errorf("%q matches = %v, want %v", tc.sel, got, tc.matches)
		}
	}
}

func TestCheckQualifiedName(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"app", true}, {"example.com/app", true}, {"a_b.c-d", true}, {"A9", true},
		{"", false}, {"-a", false}, {"a-", false}, {"Example.com/a", false}, {"/a", false}, {"a/", false},
		{"a/b/c", false}, {string(make([]byte, 64)), false},
	} {
		if got := checkQualifiedName(tc.in) == ""; got != tc.ok {
			t.Errorf("checkQualifiedName(%q) ok = %v, want %v", tc.in, got, tc.ok)
		}
	}
}

func FuzzParseLabelSelector(f *testing.F) {
	for _, s := range []string{"app=echo,tier!=db,env in (a,b),!canary,release", "a notin (x)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := parseLabelSelector(s)
		if err == nil {
			sel.matches(map[string]string{"a": "b"})
		}
	})
}
