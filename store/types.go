package store

// KeyValue is one version of a key.
type KeyValue struct {
	Key   []byte
	Value []byte
	// CreateRevision is the revision at which the key was last created
	// (it starts a new life after each delete).
	CreateRevision int64
	// ModRevision is the revision of this version's write. For a delete
	// event it is the revision of the delete.
	ModRevision int64
	// Version counts the writes to the key since its creation: 1 after the
	// create, 0 in a delete event.
	Version int64
}

// EventType says whether an event stored a new value or deleted the key.
type EventType uint8

const (
	EventPut EventType = iota + 1
	EventDelete
	// EventProgress is not a change: every change up to KV.ModRevision
	// has been delivered (an answer to Watch.RequestProgress). Its Key is
	// nil.
	EventProgress
)

func (t EventType) String() string {
	switch t {
	case EventPut:
		return "PUT"
	case EventDelete:
		return "DELETE"
	case EventProgress:
		return "PROGRESS"
	}
	return "UNKNOWN"
}

// Event is one change to one key. A Txn that changes several keys produces
// several events with the same revision (KV.ModRevision), in the order of its
// operations.
type Event struct {
	Type EventType
	// KV is the new version for a put. For a delete it carries the key's
	// last value and create revision, ModRevision set to the delete's
	// revision and Version 0.
	KV KeyValue
}

// CompareTarget names the per-key revision a Compare checks.
type CompareTarget uint8

const (
	// CompareModRevision checks the revision of the key's last write; 0
	// means the key does not exist.
	CompareModRevision CompareTarget = iota + 1
	// CompareCreateRevision checks the revision at which the key was
	// created; 0 means the key does not exist.
	CompareCreateRevision
)

func (t CompareTarget) String() string {
	switch t {
	case CompareModRevision:
		return "mod revision"
	case CompareCreateRevision:
		return "create revision"
	}
	return "unknown target"
}

// Compare is a precondition of a Txn: the key's Target revision must equal
// Revision.
type Compare struct {
	Key      []byte
	Target   CompareTarget
	Revision int64
}

// ModRevisionIs requires key's last write to be at rev.
func ModRevisionIs(key []byte, rev int64) Compare {
	return Compare{Key: key, Target: CompareModRevision, Revision: rev}
}

// CreateRevisionIs requires key to have been created at rev.
func CreateRevisionIs(key []byte, rev int64) Compare {
	return Compare{Key: key, Target: CompareCreateRevision, Revision: rev}
}

// Absent requires key not to exist.
func Absent(key []byte) Compare {
	return Compare{Key: key, Target: CompareModRevision, Revision: 0}
}

// OpType is the kind of an Op.
type OpType uint8

const (
	OpPut OpType = iota + 1
	OpDelete
)

// Op is one write of a Txn.
type Op struct {
	Type  OpType
	Key   []byte
	Value []byte
}

// Put stores value at key.
func Put(key, value []byte) Op { return Op{Type: OpPut, Key: key, Value: value} }

// Delete removes key. Deleting a key that does not exist changes nothing.
func Delete(key []byte) Op { return Op{Type: OpDelete, Key: key} }

// Txn is an all-or-nothing write: if every Compare holds, every Op is applied
// at one new revision; otherwise nothing is.
type Txn struct {
	Compares []Compare
	Ops      []Op
}

// TxnResponse is the outcome of a successful Txn.
type TxnResponse struct {
	// Revision is the revision the Txn wrote at, or the store's revision
	// if it changed nothing (no ops, or only deletes of absent keys).
	Revision int64
	// Changed reports whether the Txn wrote a new revision.
	Changed bool
}

// ListOptions selects a page of keys.
type ListOptions struct {
	// Prefix selects the keys that start with it; empty selects all.
	Prefix []byte
	// After, if set, starts the page after this key (exclusive): pass the
	// last key of the previous page to continue.
	After []byte
	// Limit caps the number of keys returned; 0 means no limit.
	Limit int
	// Revision reads the keys as they were at this revision; 0 means the
	// current revision. Every page of one listing must use the Revision of
	// the first page's result to be consistent.
	Revision int64
}

// ListResult is a page of keys in key order.
type ListResult struct {
	KVs []KeyValue
	// Revision is the revision the page was read at.
	Revision int64
	// More reports whether keys follow the last one returned.
	More bool
}
