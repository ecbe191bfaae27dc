package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// Store is a revisioned key-value store. It is safe for concurrent use.
type Store struct {
	cfg  Config
	db   *pebble.DB
	lock *pebble.Lock // released after db is closed

	// rev is the newest revision whose write is durable; readers never see
	// past it.
	rev atomic.Int64
	// compactRev is the oldest revision still readable (0: nothing
	// compacted). It is raised before any history is deleted.
	compactRev atomic.Int64
	// index holds every live key's revisions, for the committer's
	// compares (etcd keeps the same in memory). Only the committer uses it
	// after Open.
	index map[string]keyMeta
	// failed holds the first write error; once set, every Txn fails.
	failed atomic.Pointer[error]

	requests chan *txnRequest
	pipeline chan *pendingGroup
	// pipelineDone is closed when the syncer has answered every Txn the
	// committer took, after Close.
	pipelineDone chan struct{}
	hub          *hub

	compactMu sync.Mutex // one compaction at a time; held by Close too

	watchMu       sync.Mutex
	watchesClosed bool
	watchWG       sync.WaitGroup

	closeOnce sync.Once
	closing   chan struct{} // closed by Close
	wg        sync.WaitGroup
}

// Open opens the store in cfg.Path, creating it if needed, and recovers its
// revision, compaction point and change log. It fails with ErrLocked if
// another process has the directory open.
func Open(cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, invalidf("config: Path is required")
	}
	cfg = cfg.withDefaults()
	if err := cfg.fs.MkdirAll(cfg.Path, 0o755); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", cfg.Path, err)
	}
	lock, err := pebble.LockDirectory(cfg.Path, cfg.fs)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is held by another process or Store: %v", ErrLocked, cfg.Path, err)
	}
	cache := pebble.NewCache(cfg.CacheSize)
	defer cache.Unref()
	opts := &pebble.Options{
		FS:                 cfg.fs,
		Lock:               lock,
		Cache:              cache,
		MemTableSize:       cfg.MemTableSize,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{cfg.Logger},
	}
	db, err := pebble.Open(cfg.Path, opts)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("store: open %s: not a readable store (corrupt or foreign files): %w", cfg.Path, err)
	}
	s := &Store{
		cfg:          cfg,
		db:           db,
		lock:         lock,
		requests:     make(chan *txnRequest, 1024),
		pipeline:     make(chan *pendingGroup, 64),
		pipelineDone: make(chan struct{}),
		closing:      make(chan struct{}),
	}
	if err := s.recover(); err != nil {
		db.Close()
		lock.Close()
		return nil, fmt.Errorf("store: open %s: %w", cfg.Path, err)
	}
	s.hub = newHub(s.rev.Load(), cfg.WatchCacheRevisions, cfg.WatchQueueLimit)
	s.wg.Add(2)
	go s.commitLoop()
	go s.syncLoop()
	if cfg.CompactionInterval > 0 {
		s.wg.Add(1)
		go s.autoCompactLoop()
	}
	return s, nil
}

// recover reads the format marker, the compaction point and the newest
// revision, and finishes a compaction that a crash interrupted.
func (s *Store) recover() error {
	format, err := s.getRaw(metaFormat)
	switch {
	case err == nil && string(format) != formatVersion:
		return fmt.Errorf("unsupported format %q (want %q)", format, formatVersion)
	case errors.Is(err, ErrNotFound):
		empty, err := s.isEmpty()
		if err != nil {
			return err
		}
		if !empty {
			return fmt.Errorf("a Pebble database without the %q marker: not a wask store", formatVersion)
		}
		if err := s.db.Set(metaFormat, []byte(formatVersion), pebble.Sync); err != nil {
			return fmt.Errorf("write format marker: %w", err)
		}
	case err != nil:
		return err
	}

	compact, err := s.getMetaRevision(metaCompact)
	if err != nil {
		return err
	}
	compacting, err := s.getMetaRevision(metaCompacting)
	if err != nil {
		return err
	}
	last, err := s.lastLogRevision()
	if err != nil {
		return err
	}
	s.rev.Store(max(last, compact, compacting))
	s.compactRev.Store(compact)
	if compacting > compact {
		s.compactRev.Store(compacting)
		if err := s.finishCompaction(compact, compacting); err != nil {
			return fmt.Errorf("resume compaction to %d: %w", compacting, err)
		}
	}
	return s.loadIndex()
}

// loadIndex builds the committer's index from the newest version of every
// key.
func (s *Store) loadIndex() error {
	s.index = make(map[string]keyMeta)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixVersion}, UpperBound: []byte{prefixVersion + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; {
		part, rev, ok := splitVersionKey(it.Key())
		if !ok {
			return fmt.Errorf("version key %x: %w", it.Key(), errCorruptRecord)
		}
		rec, err := decodeVersionRecord(it.Value())
		if err != nil {
			return fmt.Errorf("key %q: %w", unescapeKey(part), err)
		}
		if !rec.tombstone {
			s.index[string(unescapeKey(part))] = keyMeta{createRev: rec.createRevision, modRev: rev, version: rec.version}
		}
		valid = it.SeekGE(afterAllVersions(part))
	}
	return it.Error()
}

func (s *Store) isEmpty() (bool, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return false, err
	}
	defer it.Close()
	return !it.First(), it.Error()
}

func (s *Store) getRaw(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

func (s *Store) getMetaRevision(key []byte) (int64, error) {
	v, err := s.getRaw(key)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("metadata %q: %w", key, errCorruptRecord)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

func (s *Store) lastLogRevision() (int64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixLog}, UpperBound: []byte{prefixLog + 1}})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	rev, ok := logKeyRevision(it.Key())
	if !ok {
		return 0, fmt.Errorf("log key %x: %w", it.Key(), errCorruptRecord)
	}
	return rev, nil
}

// Close stops the store: pending Txns fail with ErrClosed, watches end with
// ErrClosed, and Pebble is closed after every acknowledged write is synced.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closing)
		s.wg.Wait()
		s.hub.close(ErrClosed)
		s.watchMu.Lock()
		s.watchesClosed = true
		s.watchMu.Unlock()
		s.watchWG.Wait()
		s.compactMu.Lock()
		defer s.compactMu.Unlock()
		err = errors.Join(s.db.Close(), s.lock.Close())
	})
	return err
}

// Revision returns the newest durable revision.
func (s *Store) Revision() int64 { return s.rev.Load() }

// CompactRevision returns the oldest revision still readable.
func (s *Store) CompactRevision() int64 { return s.compactRev.Load() }

// checkReadRevision resolves rev (0: current) against the durable revision
// and the compaction point. It must be called after the Pebble iterator
// that serves the read was created, so that a compaction racing with the
// read either is seen here or deleted nothing the iterator can see.
func (s *Store) checkReadRevision(rev, current int64) error {
	if rev > current {
		return fmt.Errorf("%w: %d (current %d)", ErrFutureRevision, rev, current)
	}
	if c := s.compactRev.Load(); rev < c {
		return &CompactedError{Requested: rev, CompactRevision: c, CurrentRevision: current}
	}
	return nil
}

func (s *Store) checkOpen() error {
	select {
	case <-s.closing:
		return ErrClosed
	default:
		return nil
	}
}

// Get returns the current version of key, or ErrNotFound.
func (s *Store) Get(ctx context.Context, key []byte) (KeyValue, error) {
	if err := s.checkKey(key); err != nil {
		return KeyValue{}, err
	}
	if err := s.checkOpen(); err != nil {
		return KeyValue{}, err
	}
	rev := s.rev.Load()
	prefix := versionKeyPrefix(nil, key)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: prefix, UpperBound: successor(prefix)})
	if err != nil {
		return KeyValue{}, fmt.Errorf("store: get %q: %w", key, err)
	}
	defer it.Close()
	if !it.SeekGE(versionKey(nil, key, rev)) {
		if err := it.Error(); err != nil {
			return KeyValue{}, fmt.Errorf("store: get %q: %w", key, err)
		}
		return KeyValue{}, ErrNotFound
	}
	_, modRev, _ := splitVersionKey(it.Key())
	rec, err := decodeVersionRecord(it.Value())
	if err != nil {
		return KeyValue{}, fmt.Errorf("store: get %q: %w", key, err)
	}
	if rec.tombstone {
		return KeyValue{}, ErrNotFound
	}
	return KeyValue{
		Key:            bytes.Clone(key),
		Value:          bytes.Clone(rec.value),
		CreateRevision: rec.createRevision,
		ModRevision:    modRev,
		Version:        rec.version,
	}, nil
}

// List returns a page of the keys under opts.Prefix as of one revision.
func (s *Store) List(ctx context.Context, opts ListOptions) (ListResult, error) {
	if opts.Limit < 0 {
		return ListResult{}, invalidf("list: negative limit %d", opts.Limit)
	}
	if err := s.checkOpen(); err != nil {
		return ListResult{}, err
	}
	current := s.rev.Load()
	rev := opts.Revision
	if rev == 0 {
		rev = current
	}
	lower, upper := versionRangeForPrefix(opts.Prefix)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return ListResult{}, fmt.Errorf("store: list %q: %w", opts.Prefix, err)
	}
	defer it.Close()
	if err := s.checkReadRevision(rev, current); err != nil {
		return ListResult{}, err
	}

	res := ListResult{Revision: rev}
	start := lower
	if opts.After != nil {
		if a := afterAllVersions(versionKeyPrefix(nil, opts.After)[1:]); bytes.Compare(a, lower) > 0 {
			start = a
		}
	}
	var keyPart, seekBuf []byte // keyPart is a copy: the iterator reuses its key buffer
	valid := it.SeekGE(start)
	for n := 0; valid; n++ {
		part, vrev, ok := splitVersionKey(it.Key())
		if !ok {
			return ListResult{}, fmt.Errorf("store: list: version key %x: %w", it.Key(), errCorruptRecord)
		}
		keyPart = append(keyPart[:0], part...)
		if vrev > rev {
			// Newer than the snapshot revision: jump to this key's newest
			// version at or before rev, which may not exist.
			seekBuf = append(append(append(seekBuf[:0], prefixVersion), keyPart...), revSuffix(rev)...)
			valid = it.SeekGE(seekBuf)
			if !valid {
				break
			}
			if next, _, _ := splitVersionKey(it.Key()); !bytes.Equal(next, keyPart) {
				continue
			}
			_, vrev, _ = splitVersionKey(it.Key())
		}
		rec, err := decodeVersionRecord(it.Value())
		if err != nil {
			return ListResult{}, fmt.Errorf("store: list: key %q: %w", unescapeKey(keyPart), err)
		}
		if !rec.tombstone {
			if opts.Limit > 0 && len(res.KVs) == opts.Limit {
				res.More = true
				break
			}
			res.KVs = append(res.KVs, KeyValue{
				Key:            unescapeKey(keyPart),
				Value:          bytes.Clone(rec.value),
				CreateRevision: rec.createRevision,
				ModRevision:    vrev,
				Version:        rec.version,
			})
		}
		// Skip this key's older versions: usually there are none and the
		// next entry is already the next key.
		valid = it.Next()
		if valid {
			if next, _, _ := splitVersionKey(it.Key()); bytes.Equal(next, keyPart) {
				valid = it.SeekGE(afterAllVersions(keyPart))
			}
		}
		if n%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return ListResult{}, err
			}
		}
	}
	if err := it.Error(); err != nil {
		return ListResult{}, fmt.Errorf("store: list %q: %w", opts.Prefix, err)
	}
	return res, nil
}

func revSuffix(rev int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, revisionLen), ^uint64(rev))
}

func (s *Store) checkKey(key []byte) error {
	if len(key) == 0 {
		return invalidf("empty key")
	}
	if len(key) > s.cfg.MaxKeySize {
		return invalidf("key of %d bytes exceeds the %d-byte limit", len(key), s.cfg.MaxKeySize)
	}
	return nil
}
