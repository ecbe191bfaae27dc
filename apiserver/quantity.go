package apiserver

import (
	"fmt"
	"math/big"
	"strings"
)

// quantitySuffixes are the Kubernetes quantity suffixes and their factors.
var quantitySuffixes = map[string]*big.Rat{
	"":   big.NewRat(1, 1),
	"m":  big.NewRat(1, 1000),
	"k":  pow(10, 3),
	"M":  pow(10, 6),
	"G":  pow(10, 9),
	"T":  pow(10, 12),
	"P":  pow(10, 15),
	"E":  pow(10, 18),
	"Ki": pow(2, 10),
	"Mi": pow(2, 20),
	"Gi": pow(2, 30),
	"Ti": pow(2, 40),
	"Pi": pow(2, 50),
	"Ei": pow(2, 60),
}

func pow(base, exp int64) *big.Rat {
	return new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(base), big.NewInt(exp), nil))
}

// parseQuantity parses a Kubernetes quantity ("64Mi", "500m", "1.5G", "2",
// "1e3") into its exact value. Negative quantities are rejected: no wask
// resource can be negative.
func parseQuantity(s string) (*big.Rat, error) {
	if s == "" {
		return nil, fmt.Errorf("empty quantity")
	}
	// The number: digits with at most one '.', at least one digit.
	i := 0
	if i < len(s) && s[i] == '+' {
		i++
	}
	start := i
	digits, dots := 0, 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			digits++
		} else if c == '.' {
			dots++
		} else {
			break
		}
	}
	if digits == 0 || dots > 1 {
		return nil, fmt.Errorf("%q is not a quantity (a number with an optional suffix such as m, k, M, G, Ki, Mi, Gi)", s)
	}
	num, ok := new(big.Rat).SetString(s[start:i])
	if !ok {
		return nil, fmt.Errorf("%q is not a quantity", s)
	}
	suffix := s[i:]
	if f, ok := quantitySuffixes[suffix]; ok {
		return num.Mul(num, f), nil
	}
	// Decimal exponent: "1e3", "1E-3".
	if suffix[0] == 'e' || suffix[0] == 'E' {
		exp := suffix[1:]
		neg := strings.HasPrefix(exp, "-")
		exp = strings.TrimLeft(exp, "+-")
		if exp != "" && len(exp) <= 2 && strings.Trim(exp, "0123456789") == "" {
			var n int64
			fmt.Sscan(exp, &n)
			f := pow(10, n)
			if neg {
				f.Inv(f)
			}
			return num.Mul(num, f), nil
		}
	}
	return nil, fmt.Errorf("%q has an unknown suffix %q (known: m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei)", s, suffix)
}
