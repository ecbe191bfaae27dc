package apiserver

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// continueToken is the state of a paginated List between pages. Its wire
// form (base64url of JSON) is opaque to clients.
type continueToken struct {
	// Revision is the revision every page is read at.
	Revision int64 `json:"rev"`
	// Key is the store key of the last object returned; the next page
	// starts after it.
	Key string `json:"key"`
}

func (t continueToken) encode() string {
	b, _ := json.Marshal(t) // cannot fail: two plain fields
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeContinue parses a continue token for a list under prefix.
func decodeContinue(s, prefix string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Revision <= 0 || !strings.HasPrefix(t.Key, prefix) {
		return continueToken{}, invalidArgument("continue: not a continue token of this list (same kind and namespace)")
	}
	return t, nil
}
