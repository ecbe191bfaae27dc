package store

import "encoding/binary"

// Key space prefixes in Pebble. Each is one byte so that the three spaces
// never interleave.
const (
	prefixMeta    = 'm'
	prefixLog     = 'r'
	prefixVersion = 'v'
)

var (
	metaFormat     = []byte{prefixMeta, 'f', 'o', 'r', 'm', 'a', 't'}
	metaCompact    = []byte{prefixMeta, 'c', 'o', 'm', 'p', 'a', 'c', 't'}
	metaCompacting = []byte{prefixMeta, 'c', 'o', 'm', 'p', 'a', 'c', 't', 'i', 'n', 'g'}
)

// formatVersion identifies the on-disk layout described in doc.go.
const formatVersion = "wask-store/1"

// A user key is escaped (0x00 → 0x00 0xFF) and terminated by 0x00 0x01, so
// that the encoding preserves the byte order of user keys, the versions of
// one key are contiguous, and a prefix of user keys is a prefix of encodings.
const (
	escapeByte      = 0x00
	escapedZero     = 0xFF
	terminatorByte  = 0x01
	revisionLen     = 8
	versionOverhead = 1 + 2 + revisionLen // prefix, terminator, revision
)

// appendEscaped appends the escaped form of key (without terminator) to dst.
func appendEscaped(dst, key []byte) []byte {
	for _, b := range key {
		if b == escapeByte {
			dst = append(dst, escapeByte, escapedZero)
			continue
		}
		dst = append(dst, b)
	}
	return dst
}

// versionKeyPrefix returns the Pebble key prefix shared by every version of key.
func versionKeyPrefix(dst, key []byte) []byte {
	dst = append(dst, prefixVersion)
	dst = appendEscaped(dst, key)
	return append(dst, escapeByte, terminatorByte)
}

// versionKey returns the Pebble key of key's version at rev. Versions sort
// newest first, so seeking to versionKey(key, r) finds the newest version
// whose revision is at most r.
func versionKey(dst, key []byte, rev int64) []byte {
	dst = versionKeyPrefix(dst, key)
	return binary.BigEndian.AppendUint64(dst, ^uint64(rev))
}

// splitVersionKey returns the escaped user key with its terminator (the
// part shared by all versions of one key) and the revision of a version key.
func splitVersionKey(k []byte) (keyPart []byte, rev int64, ok bool) {
	if len(k) < versionOverhead || k[0] != prefixVersion {
		return nil, 0, false
	}
	n := len(k) - revisionLen
	return k[1:n], int64(^binary.BigEndian.Uint64(k[n:])), true
}

// unescapeKey turns an escaped, terminated key part back into the user key.
func unescapeKey(part []byte) []byte {
	part = part[:len(part)-2] // terminator
	out := make([]byte, 0, len(part))
	for i := 0; i < len(part); i++ {
		out = append(out, part[i])
		if part[i] == escapeByte {
			i++ // skip escapedZero
		}
	}
	return out
}

// versionRangeForPrefix returns the Pebble bounds [lower, upper) of every
// version of every user key that starts with prefix.
func versionRangeForPrefix(prefix []byte) (lower, upper []byte) {
	lower = appendEscaped([]byte{prefixVersion}, prefix)
	return lower, successor(lower)
}

// afterAllVersions returns the smallest Pebble key greater than every version
// of the key whose escaped, terminated part is keyPart.
func afterAllVersions(keyPart []byte) []byte {
	k := make([]byte, 0, 1+len(keyPart))
	k = append(k, prefixVersion)
	k = append(k, keyPart...)
	// keyPart ends in the terminator 0x00 0x01; 0x00 0x02 sorts after every
	// revision suffix of this key and before any longer key (whose next
	// byte pair is 0x00 0xFF or a non-zero byte).
	k[len(k)-1]++
	return k
}

// successor returns the smallest key greater than every key that has b as a
// prefix. b must contain a byte other than 0xFF.
func successor(b []byte) []byte {
	s := append([]byte(nil), b...)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 0xFF {
			s[i]++
			return s[:i+1]
		}
	}
	panic("store: successor of all-0xFF key")
}

func logKey(rev int64) []byte {
	k := make([]byte, 1+revisionLen)
	k[0] = prefixLog
	binary.BigEndian.PutUint64(k[1:], uint64(rev))
	return k
}

func logKeyRevision(k []byte) (int64, bool) {
	if len(k) != 1+revisionLen || k[0] != prefixLog {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(k[1:])), true
}
