package store

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A version record is the Pebble value of a version key:
//
//	flags:1 | createRev:uvarint | version:uvarint | value...
//
// A tombstone (the key was deleted at this revision) is flags=tombstone with
// nothing after it.
const flagTombstone = 1

type versionRecord struct {
	tombstone      bool
	createRevision int64
	version        int64
	value          []byte // aliases the decoded buffer
}

func appendVersionRecord(dst []byte, createRev, version int64, value []byte) []byte {
	dst = append(dst, 0)
	dst = binary.AppendUvarint(dst, uint64(createRev))
	dst = binary.AppendUvarint(dst, uint64(version))
	return append(dst, value...)
}

var tombstoneRecord = []byte{flagTombstone}

var errCorruptRecord = errors.New("store: corrupt record")

func decodeVersionRecord(b []byte) (versionRecord, error) {
	if len(b) == 0 {
		return versionRecord{}, errCorruptRecord
	}
	if b[0]&flagTombstone != 0 {
		return versionRecord{tombstone: true}, nil
	}
	b = b[1:]
	cr, n := binary.Uvarint(b)
	if n <= 0 {
		return versionRecord{}, errCorruptRecord
	}
	b = b[n:]
	ver, n := binary.Uvarint(b)
	if n <= 0 {
		return versionRecord{}, errCorruptRecord
	}
	return versionRecord{createRevision: int64(cr), version: int64(ver), value: b[n:]}, nil
}

// A log record is the Pebble value of a change-log key:
//
//	unixNanos:uvarint | count:uvarint | count × (type:1 | keyLen:uvarint | key)
//
// It names what changed, not the values: a put's value is the version at the
// log's revision, and a delete's last value is the key's newest version
// before it — which compaction keeps for every retained revision. Storing
// values once halves what each write costs Pebble.
func appendLogRecord(dst []byte, unixNanos int64, events []Event) []byte {
	dst = binary.AppendUvarint(dst, uint64(unixNanos))
	dst = binary.AppendUvarint(dst, uint64(len(events)))
	for _, ev := range events {
		dst = append(dst, byte(ev.Type))
		dst = binary.AppendUvarint(dst, uint64(len(ev.KV.Key)))
		dst = append(dst, ev.KV.Key...)
	}
	return dst
}

// decodeLogTime returns only the commit time of a log record.
func decodeLogTime(b []byte) (int64, error) {
	t, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, errCorruptRecord
	}
	return int64(t), nil
}

// logChange is one entry of a log record.
type logChange struct {
	typ EventType
	key []byte
}

// decodeLogRecord decodes the changes of revision rev. Keys are copied, so
// the result outlives b.
func decodeLogRecord(rev int64, b []byte) ([]logChange, error) {
	r := recordReader{b: b}
	r.uvarint() // time
	count := r.uvarint()
	if r.err != nil || count > uint64(len(b)) {
		return nil, fmt.Errorf("store: log record %d: %w", rev, errCorruptRecord)
	}
	changes := make([]logChange, 0, count)
	for i := uint64(0); i < count; i++ {
		c := logChange{typ: EventType(r.byte()), key: r.bytes()}
		if c.typ != EventPut && c.typ != EventDelete {
			r.err = errCorruptRecord
		}
		if r.err != nil {
			return nil, fmt.Errorf("store: log record %d change %d: %w", rev, i, errCorruptRecord)
		}
		changes = append(changes, c)
	}
	return changes, nil
}

type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorruptRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errCorruptRecord
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *recordReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errCorruptRecord
		return nil
	}
	out := make([]byte, n)
	copy(out, r.b[:n])
	r.b = r.b[n:]
	return out
}
