package token

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJoinRoundTrip(t *testing.T) {
	j := Join{CAHash: "sha256:" + strings.Repeat("ab", 32), Secret: New()}
	got, err := ParseJoin(j.String() + "\n")
	if err != nil || got != j {
		t.Fatalf("ParseJoin(String()) = %+v, %v; want %+v", got, err, j)
	}
	for _, bad := range []string{"", "wask1.", "wask1.abc.secret", "k10" + j.String(), "wask1." + strings.Repeat("zz", 32) + ".s", "wask1." + strings.Repeat("ab", 32) + "."} {
		if _, err := ParseJoin(bad); err == nil {
			t.Errorf("ParseJoin(%q) succeeded", bad)
		}
	}
}

func TestTokens(t *testing.T) {
	a, b := New(), New()
	if a == b || len(a) != 64 {
		t.Fatalf("New gave %q and %q", a, b)
	}
	if !Equal(a, a) || Equal(a, b) {
		t.Fatal("Equal is wrong")
	}
	path := filepath.Join(t.TempDir(), "admin-token")
	if err := WriteFile(path, a); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v", st.Mode().Perm())
	}
	if got, err := ReadFile(path); err != nil || got != a {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	os.WriteFile(path, []byte(" \n"), 0o600)
	if _, err := ReadFile(path); err == nil {
		t.Fatal("empty token file accepted")
	}
}
