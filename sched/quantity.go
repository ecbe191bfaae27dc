package sched

import (
	"fmt"
	"math"
	"math/big"
	"strings"
)

// quantityFactors are the Kubernetes quantity suffixes.
var quantityFactors = map[string]*big.Rat{
	"": big.NewRat(1, 1), "m": big.NewRat(1, 1000),
	"k": ratPow(10, 3), "M": ratPow(10, 6), "G": ratPow(10, 9), "T": ratPow(10, 12), "P": ratPow(10, 15), "E": ratPow(10, 18),
	"Ki": ratPow(2, 10), "Mi": ratPow(2, 20), "Gi": ratPow(2, 30), "Ti": ratPow(2, 40), "Pi": ratPow(2, 50), "Ei": ratPow(2, 60),
}

func ratPow(base, exp int64) *big.Rat {
	return new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(base), big.NewInt(exp), nil))
}

// scaledQuantity parses a Kubernetes quantity ("64Mi", "500m", "1.5") and
// returns it times scale (1 for bytes and counts, 1000 for milli-CPU),
// rounded up, capped at MaxInt64.
func scaledQuantity(s string, scale int64) (int64, error) {
	if v, ok := fastQuantity(s, scale); ok {
		return v, nil
	}
	return exactQuantity(s, scale)
}

// exactQuantity is scaledQuantity with big rationals, for any quantity.
func exactQuantity(s string, scale int64) (int64, error) {
	num := strings.TrimPrefix(s, "+")
	end := strings.IndexFunc(num, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end < 0 {
		end = len(num)
	}
	f, ok := quantityFactors[num[end:]]
	if !ok || end == 0 || strings.Count(num[:end], ".") > 1 || num[:end] == "." {
		return 0, fmt.Errorf("%q is not a quantity (a number with an optional suffix such as m, k, M, G, Ki, Mi, Gi)", s)
	}
	v, ok := new(big.Rat).SetString(num[:end])
	if !ok {
		return 0, fmt.Errorf("%q is not a quantity", s)
	}
	v.Mul(v, f).Mul(v, big.NewRat(scale, 1))
	q, r := new(big.Int).QuoRem(v.Num(), v.Denom(), new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return math.MaxInt64, nil
	}
	return q.Int64(), nil
}

// intFactors are the integer suffix factors, for fastQuantity.
var intFactors = map[string]int64{
	"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
	"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60,
}

// fastQuantity handles the common case, an integer of up to 9 digits
// with a suffix other than "m" (or "m" at scale 1000), without big
// numbers. It reports false for anything else.
func fastQuantity(s string, scale int64) (int64, bool) {
	var n int64
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int64(s[i]-'0')
	}
	if i == 0 || i > 9 {
		return 0, false
	}
	if s[i:] == "m" && scale == 1000 {
		return n, true
	}
	f, ok := intFactors[s[i:]]
	if !ok || f > math.MaxInt64/1_000_000_000/scale {
		return 0, false
	}
	return n * f * scale, true
}
