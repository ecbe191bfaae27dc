package apiserver

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// This file turns stored objects into their wire form without decoding
// them. A stored value is the kind's message with metadata.revision
// cleared (codec.go); what a client receives is the same message with
// api_version, kind and metadata.revision set. Protobuf's encoding is a
// sequence of fields, so the wire form is the stored bytes with those
// three fields rewritten: a walk over the top-level fields (and those of
// metadata), no allocation per field and no reflection. List and the watch
// fan-out send these bytes as pre-encoded fields (see preEncoded), which
// saves decoding and re-encoding every object on every read. See
// RATIONALE.md, "Why does the apiserver send stored bytes without decoding
// them?".

// Field numbers used by the splice, read from the descriptors.
var (
	metaRevisionField  = fieldNumber((&waskv1.ObjectMeta{}).ProtoReflect().Descriptor(), "revision")
	listItemsField     = fieldNumber((&waskv1.ListResponse{}).ProtoReflect().Descriptor(), "items")
	watchTypeField     = fieldNumber((&waskv1.WatchEvent{}).ProtoReflect().Descriptor(), "type")
	watchObjectField   = fieldNumber((&waskv1.WatchEvent{}).ProtoReflect().Descriptor(), "object")
	errStoredNotObject = fmt.Errorf("not a valid protobuf message")
)

func fieldNumber(md protoreflect.MessageDescriptor, name protoreflect.Name) protowire.Number {
	fd := md.Fields().ByName(name)
	if fd == nil {
		panic("apiserver: " + string(md.FullName()) + " has no field " + string(name))
	}
	return fd.Number()
}

// appendObjectWire appends to dst the wire form of an Object (the oneof
// wrapper) holding the kind's message stored as value, at revision rev. It
// checks the message's framing, not its contents (decode does that).
func (k *kindInfo) appendObjectWire(dst, value []byte, rev int64) ([]byte, error) {
	n, err := k.messageWireSize(value, rev)
	if err != nil {
		return dst, err
	}
	return k.appendSizedObjectWire(dst, value, rev, n), nil
}

// appendListItem appends the stored object value at revision rev as one
// element of ListResponse.items.
func (k *kindInfo) appendListItem(dst, value []byte, rev int64) ([]byte, error) {
	n, err := k.messageWireSize(value, rev)
	if err != nil {
		return dst, err
	}
	dst = protowire.AppendTag(dst, listItemsField, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(protowire.SizeTag(k.field.Number())+protowire.SizeBytes(n)))
	return k.appendSizedObjectWire(dst, value, rev, n), nil
}

// appendSizedObjectWire appends the Object of a message whose spliced
// size, from messageWireSize, is n.
func (k *kindInfo) appendSizedObjectWire(dst, value []byte, rev int64, n int) []byte {
	dst = protowire.AppendTag(dst, k.field.Number(), protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(n))
	start := len(dst)
	dst = k.appendMessageWire(dst, value, rev)
	if len(dst)-start != n {
		panic("apiserver: spliced size mismatch") // a bug in this file
	}
	return dst
}

// isMetadata reports whether a top-level field of the stored message is
// metadata (as decoding would read it: a length-delimited field).
func (k *kindInfo) isMetadata(num protowire.Number, typ protowire.Type) bool {
	return num == k.metadataField.Number() && typ == protowire.BytesType
}

// isTypeMeta reports whether a top-level field is api_version or kind,
// which the wire form always carries with their only values.
func (k *kindInfo) isTypeMeta(num protowire.Number, typ protowire.Type) bool {
	return typ == protowire.BytesType && (num == k.apiVersionField.Number() || num == k.kindField.Number())
}

// revisionFieldSize is the size of metadata.revision = rev on the wire.
func revisionFieldSize(rev int64) int {
	return protowire.SizeTag(metaRevisionField) + protowire.SizeBytes(decimalLen(rev))
}

// storedField is one field of a stored message.
type storedField struct {
	num     protowire.Number
	typ     protowire.Type
	whole   []byte // tag and value
	payload []byte // the value of a length-delimited field
}

// nextField splits the first field off b; ok is false if b does not
// start with a well-formed field.
func nextField(b []byte) (f storedField, rest []byte, ok bool) {
	num, typ, n := protowire.ConsumeField(b)
	if n < 0 {
		return f, nil, false
	}
	f = storedField{num: num, typ: typ, whole: b[:n]}
	if typ == protowire.BytesType {
		_, _, tagLen := protowire.ConsumeTag(b)
		f.payload, _ = protowire.ConsumeBytes(b[tagLen:n])
	}
	return f, b[n:], true
}

// messageWireSize returns the size of the kind's message stored as value
// once spliced for revision rev, checking the framing on the way.
func (k *kindInfo) messageWireSize(value []byte, rev int64) (int, error) {
	size, sawMeta := len(k.typeMetaWire), false
	for b := value; len(b) > 0; {
		f, rest, ok := nextField(b)
		if !ok {
			return 0, fmt.Errorf("decode stored %s: %w", k.lowerName(), errStoredNotObject)
		}
		b = rest
		switch {
		case k.isTypeMeta(f.num, f.typ):
		case k.isMetadata(f.num, f.typ):
			m, err := metaWireSize(f.payload, rev)
			if err != nil {
				return 0, fmt.Errorf("decode stored %s: metadata: %w", k.lowerName(), err)
			}
			size += protowire.SizeTag(f.num) + protowire.SizeBytes(m)
			sawMeta = true
		default:
			size += len(f.whole)
		}
	}
	if !sawMeta {
		size += protowire.SizeTag(k.metadataField.Number()) + protowire.SizeBytes(revisionFieldSize(rev))
	}
	return size, nil
}

// metaWireSize is the size of stored metadata meta with its revision set
// to rev.
func metaWireSize(meta []byte, rev int64) (int, error) {
	size := revisionFieldSize(rev)
	for b := meta; len(b) > 0; {
		f, rest, ok := nextField(b)
		if !ok {
			return 0, errStoredNotObject
		}
		b = rest
		if !isRevision(f.num, f.typ) {
			size += len(f.whole)
		}
	}
	return size, nil
}

func isRevision(num protowire.Number, typ protowire.Type) bool {
	return num == metaRevisionField && typ == protowire.BytesType
}

// appendMessageWire appends the spliced message; value's framing must
// have been checked by messageWireSize.
func (k *kindInfo) appendMessageWire(dst, value []byte, rev int64) []byte {
	metaNum := k.metadataField.Number()
	metaDone := false
	for b := value; len(b) > 0; {
		f, rest, _ := nextField(b)
		b = rest
		if k.isTypeMeta(f.num, f.typ) {
			continue
		}
		if !k.isMetadata(f.num, f.typ) {
			dst = append(dst, f.whole...)
			continue
		}
		m, _ := metaWireSize(f.payload, rev)
		dst = protowire.AppendVarint(protowire.AppendTag(dst, metaNum, protowire.BytesType), uint64(m))
		dst = appendMetaWire(dst, f.payload, rev)
		metaDone = true
	}
	if !metaDone {
		dst = protowire.AppendVarint(protowire.AppendTag(dst, metaNum, protowire.BytesType), uint64(revisionFieldSize(rev)))
		dst = appendRevisionField(dst, rev)
	}
	return append(dst, k.typeMetaWire...)
}

// appendMetaWire appends stored metadata meta without any revision field,
// then metadata.revision = rev.
func appendMetaWire(dst, meta []byte, rev int64) []byte {
	for b := meta; len(b) > 0; {
		f, rest, _ := nextField(b)
		if !isRevision(f.num, f.typ) {
			dst = append(dst, f.whole...)
		}
		b = rest
	}
	return appendRevisionField(dst, rev)
}

func appendRevisionField(dst []byte, rev int64) []byte {
	dst = protowire.AppendTag(dst, metaRevisionField, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(decimalLen(rev)))
	return appendDecimal(dst, rev)
}

// newTypeMetaWire returns the wire form of api_version and kind set to
// their only values for kind k.
func (k *kindInfo) newTypeMetaWire() []byte {
	var b []byte
	b = protowire.AppendTag(b, k.apiVersionField.Number(), protowire.BytesType)
	b = protowire.AppendString(b, apiVersion)
	b = protowire.AppendTag(b, k.kindField.Number(), protowire.BytesType)
	return protowire.AppendString(b, k.name)
}

// decimalLen is the length of rev (≥ 0) in decimal.
func decimalLen(rev int64) int {
	n := 1
	for rev >= 10 {
		rev /= 10
		n++
	}
	return n
}

func appendDecimal(dst []byte, rev int64) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + rev%10)
		rev /= 10
		if rev == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

// preEncoded returns an empty message of m's type carrying wire, the
// encoding of some of its fields, as unknown fields. Binary codecs emit
// unknown fields as they are, so the client decodes them as the real
// fields; jsonCodec decodes them first (protojson would drop them). A
// pre-encoded message is never modified after it is made, so many streams
// may send it at once.
func preEncoded[M proto.Message](m M, wire []byte) M {
	m.ProtoReflect().SetUnknown(wire)
	return m
}
