package store

import (
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Config configures a Store. The zero value of every field except Path
// means its documented default.
type Config struct {
	// Path is the directory of the store; it is created if missing.
	// Required.
	Path string

	// CacheSize is the size of Pebble's block cache in bytes.
	// Default: 64 MiB.
	CacheSize int64

	// MemTableSize is the size of one Pebble memtable in bytes.
	// Default: 16 MiB.
	MemTableSize uint64

	// NoSync acknowledges writes before their fsync. Only for tests and
	// benchmarks: a crash may then lose acknowledged writes.
	// Default: false (every write is synced before it is acknowledged).
	NoSync bool

	// MaxKeySize is the largest key accepted, in bytes. Default: 8 KiB.
	MaxKeySize int
	// MaxValueSize is the largest value accepted, in bytes.
	// Default: 1.5 MiB.
	MaxValueSize int
	// MaxTxnOps is the largest number of compares plus ops in one Txn.
	// Default: 10,000.
	MaxTxnOps int

	// RetainRevisions and RetainDuration drive automatic compaction: the
	// store compacts history older than both the last RetainRevisions
	// revisions and the last RetainDuration, whichever keeps more.
	// Defaults: 10,000 revisions and 5 minutes.
	RetainRevisions int64
	RetainDuration  time.Duration
	// CompactionInterval is how often automatic compaction runs; negative
	// disables it. Default: 1 minute.
	CompactionInterval time.Duration

	// WatchQueueLimit is the number of events a watcher may have pending
	// before it is cut off with ErrWatcherTooSlow. Default: 10,000.
	WatchQueueLimit int
	// WatchCacheRevisions is how many recent revisions are kept in memory
	// so that a watch starting just behind the head catches up without
	// reading the change log. Default: 4,096.
	WatchCacheRevisions int

	// Logger receives the store's and Pebble's logs. Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock used to stamp revisions for time-based compaction.
	// Default: time.Now.
	Now func() time.Time

	// fs replaces the operating system's file system (tests only).
	fs vfs.FS
}

func (c Config) withDefaults() Config {
	if c.CacheSize == 0 {
		c.CacheSize = 64 << 20
	}
	if c.MemTableSize == 0 {
		c.MemTableSize = 16 << 20
	}
	if c.MaxKeySize == 0 {
		c.MaxKeySize = 8 << 10
	}
	if c.MaxValueSize == 0 {
		c.MaxValueSize = 3 << 19 // 1.5 MiB
	}
	if c.MaxTxnOps == 0 {
		c.MaxTxnOps = 10_000
	}
	if c.RetainRevisions == 0 {
		c.RetainRevisions = 10_000
	}
	if c.RetainDuration == 0 {
		c.RetainDuration = 5 * time.Minute
	}
	if c.CompactionInterval == 0 {
		c.CompactionInterval = time.Minute
	}
	if c.WatchQueueLimit == 0 {
		c.WatchQueueLimit = 10_000
	}
	if c.WatchCacheRevisions == 0 {
		c.WatchCacheRevisions = 4096
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.fs == nil {
		c.fs = vfs.Default
	}
	return c
}
