package apiserver

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/wask-dev/wask/store"
)

// encode returns the stored form of m: deterministic protobuf with
// metadata.revision cleared (the store's ModRevision is the revision).
func (k *kindInfo) encode(m proto.Message) ([]byte, error) {
	c := proto.Clone(m)
	k.meta(c).Revision = ""
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", k.lowerName(), err)
	}
	return b, nil
}

// decode returns the object stored in kv, with metadata.revision set to
// rev (normally kv.ModRevision).
func (k *kindInfo) decode(value []byte, rev int64) (proto.Message, error) {
	m := k.newMessage()
	if err := proto.Unmarshal(value, m); err != nil {
		return nil, fmt.Errorf("decode stored %s: %w", k.lowerName(), err)
	}
	k.setTypeMeta(m)
	k.meta(m).Revision = formatRevision(rev)
	return m, nil
}

// decodeKV decodes a stored version of an object.
func (k *kindInfo) decodeKV(kv store.KeyValue) (proto.Message, error) {
	return k.decode(kv.Value, kv.ModRevision)
}

func formatRevision(rev int64) string { return strconv.FormatInt(rev, 10) }

// parseRevision parses a decimal revision; field names it in the error.
func parseRevision(s, field string) (int64, error) {
	rev, err := strconv.ParseInt(s, 10, 64)
	if err != nil || rev < 0 {
		return 0, invalidArgument("%s: %q is not a revision (a non-negative decimal integer)", field, s)
	}
	return rev, nil
}
