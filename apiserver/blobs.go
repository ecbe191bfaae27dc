package apiserver

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// blobStore keeps module bytes on disk, content-addressed: the blob of
// digest "sha256:<hex>" is the file <ModuleDir>/sha256/<hex>. The store
// (Pebble) holds only the Module objects: its values are limited to 1.5 MiB
// and modules are often several MiB.
//
// A blob is written to a temporary file in the same directory, fsynced,
// renamed to its final name, and then the directory is fsynced, so a crash
// never leaves a partial blob under a final name: there is either a whole
// blob or none (and perhaps a temporary file). Temporary files are named
// ".push-*", which is never 64 hex digits, so they are never served. Blobs
// are immutable: a blob already present is not rewritten (deduplication),
// unless its bytes no longer hash to its name (it is then replaced by the
// good bytes being pushed).
//
// Nothing deletes blobs yet: deleting a Module object leaves its bytes on
// disk (pods may use them by digest). Garbage collection of blobs nothing
// refers to, and of temporary files left by a crash, is later work.
type blobStore struct {
	dir string // <ModuleDir>/sha256
}

// blobTempPrefix starts the name of a blob being written.
const blobTempPrefix = ".push-"

func newBlobStore(moduleDir string) *blobStore {
	return &blobStore{dir: filepath.Join(moduleDir, "sha256")}
}

// path returns the file of the blob with the given hex digest (64 lowercase
// hex digits, already validated: it never contains a path separator).
func (b *blobStore) path(hexDigest string) string { return filepath.Join(b.dir, hexDigest) }

// ensureDir creates the blob directory if needed, durably.
func (b *blobStore) ensureDir() error {
	if _, err := os.Stat(b.dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(b.dir, 0o750); err != nil {
		return fmt.Errorf("create module directory: %w", err)
	}
	return syncDir(filepath.Dir(b.dir))
}

// blobWriter writes one pushed module to a temporary file while hashing
// it. It ends with commit or abort (abort after commit does nothing).
type blobWriter struct {
	b    *blobStore
	f    *os.File
	h    hash.Hash
	n    int64
	done bool
}

// create starts a new blob.
func (b *blobStore) create() (*blobWriter, error) {
	if err := b.ensureDir(); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(b.dir, blobTempPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("create module blob: %w", err)
	}
	return &blobWriter{b: b, f: f, h: sha256.New()}, nil
}

func (w *blobWriter) Write(p []byte) (int, error) {
	w.h.Write(p)
	n, err := w.f.Write(p)
	w.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("write module blob: %w", err)
	}
	return n, nil
}

// hexDigest returns the SHA-256 of the bytes written so far, in hex.
func (w *blobWriter) hexDigest() string { return hex.EncodeToString(w.h.Sum(nil)) }

// abort removes the temporary file.
func (w *blobWriter) abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

// commit makes the bytes written the blob of their digest, durably. It
// reports whether it stored them (false: identical bytes were already
// there, and the temporary file is dropped) and whether it replaced a
// corrupted blob of that digest.
func (w *blobWriter) commit() (created, repaired bool, err error) {
	defer w.abort()
	hexDigest := w.hexDigest()
	final := w.b.path(hexDigest)
	switch err := verifyBlob(final, hexDigest); {
	case err == nil:
		return false, false, nil // deduplicated
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, errBlobCorrupt):
		repaired = true
	default:
		return false, false, err
	}
	if err := w.f.Sync(); err != nil {
		return false, false, fmt.Errorf("sync module blob: %w", err)
	}
	if err := w.f.Close(); err != nil {
		return false, false, fmt.Errorf("close module blob: %w", err)
	}
	if err := os.Rename(w.f.Name(), final); err != nil {
		return false, false, fmt.Errorf("store module blob: %w", err)
	}
	w.done = true
	if err := syncDir(w.b.dir); err != nil {
		return false, false, err
	}
	return true, repaired, nil
}

// errBlobCorrupt means a blob's bytes don't hash to its name.
var errBlobCorrupt = errors.New("module blob is corrupted: its bytes do not match its digest")

// verifyBlob checks that the file at path hashes to hexDigest: nil, an
// fs.ErrNotExist error, errBlobCorrupt, or an I/O error.
func verifyBlob(path, hexDigest string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return verifyReader(f, hexDigest)
}

func verifyReader(r io.Reader, hexDigest string) error {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return fmt.Errorf("read module blob: %w", err)
	}
	if hex.EncodeToString(h.Sum(nil)) != hexDigest {
		return errBlobCorrupt
	}
	return nil
}

// open opens the blob of hexDigest for reading after checking that its
// bytes hash to it (errBlobCorrupt otherwise; an fs.ErrNotExist error if
// absent). The file is positioned at its start.
func (b *blobStore) open(hexDigest string) (*os.File, int64, error) {
	f, err := os.Open(b.path(hexDigest))
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("module blob %s is not a regular file", hexDigest)
	}
	if err == nil {
		err = verifyReader(f, hexDigest)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// syncDir fsyncs a directory, making the creation or renaming of its
// entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
