package apiserver

import (
	"math/big"
	"testing"
)

func TestParseQuantity(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // exact value as a fraction; "" means invalid
	}{
		{"2", "2/1"}, {"500m", "1/2"}, {"1.5", "3/2"}, {"64Mi", "67108864/1"}, {"1Ki", "1024/1"},
		{"1k", "1000/1"}, {"2G", "2000000000/1"}, {"1Ei", "1152921504606846976/1"}, {"1e3", "1000/1"},
		{"1E-3", "1/1000"}, {"+4", "4/1"}, {".5", "1/2"},
		{"", ""}, {"Mi", ""}, {"64MB", ""}, {"64mi", ""}, {"-1", ""}, {"1..2", ""}, {"1 Mi", ""}, {"1e", ""},
	} {
		got, err := parseQuantity(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("parseQuantity(%q) = %v, want an error", tc.in, got)
		case tc.want != "" && err != nil:
			t.Errorf("parseQuantity(%q): %v", tc.in, err)
		case tc.want != "":
			want, _ := new(big.Rat).SetString(tc.want)
			if got.Cmp(want) != 0 {
				t.Errorf("parseQuantity(%q) = %v, want %v", tc.in, got, want)
			}
		}
	}
}

func FuzzParseQuantity(f *testing.F) {
	for _, s := range []string{"64Mi", "500m", "1e3", "1.5G", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := parseQuantity(s)
		if err == nil && q.Sign() < 0 {
			t.Fatalf("%q parsed as negative %v", s, q)
		}
	})
}
