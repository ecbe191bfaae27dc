// Package token makes and checks the cluster's bearer tokens and the node
// join token.
//
// A join token is "wask1.<ca-hash-hex>.<secret>": the SHA-256 of the
// cluster CA's public key, so a joining node can check the server it
// reaches is the cluster's before it sends the secret (as k3s's and
// kubeadm's tokens do), and the secret the apiserver accepts from nodes.
package token

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// New returns a random 256-bit token as 64 hex digits.
func New() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Equal compares tokens in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Join is a parsed join token.
type Join struct {
	// CAHash is "sha256:<hex>" of the cluster CA's public key.
	CAHash string
	// Secret is the bearer token nodes present.
	Secret string
}

const joinPrefix = "wask1."

// String formats the join token.
func (j Join) String() string {
	return joinPrefix + strings.TrimPrefix(j.CAHash, "sha256:") + "." + j.Secret
}

// ParseJoin parses a join token.
func ParseJoin(s string) (Join, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, joinPrefix)
	if !ok {
		return Join{}, fmt.Errorf("join token: want the form wask1.<ca-hash>.<secret>")
	}
	hash, secret, ok := strings.Cut(rest, ".")
	if !ok || len(hash) != 64 || secret == "" {
		return Join{}, fmt.Errorf("join token: want the form wask1.<64 hex digits>.<secret>")
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return Join{}, fmt.Errorf("join token: CA hash is not hex")
	}
	return Join{CAHash: "sha256:" + hash, Secret: secret}, nil
}

// ReadFile reads a token file (trailing white space ignored).
func ReadFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return t, nil
}

// WriteFile writes a token file with mode 0600, atomically.
func WriteFile(path, tok string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
