package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// versionCount counts the versions of key kept in Pebble.
func versionCount(t *testing.T, s *Store, key string) int {
	t.Helper()
	prefix := versionKeyPrefix(nil, []byte(key))
	it, err := s.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for valid := it.SeekGE(prefix); valid; valid = it.Next() {
		if part, _, ok := splitVersionKey(it.Key()); !ok || string(part) != string(prefix[1:]) {
			break
		}
		n++
	}
	return n
}

func TestCompact(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "live", "1")  // 1
	mustPut(t, s, "live", "2")  // 2
	mustPut(t, s, "dead", "1")  // 3
	mustDelete(t, s, "dead")    // 4
	mustPut(t, s, "live", "3")  // 5
	mustPut(t, s, "still", "1") // 6
	mustPut(t, s, "later", "1") // 7
	mustDelete(t, s, "later")   // 8
	mustPut(t, s, "live", "4")  // 9
	before, _ := s.List(ctx, ListOptions{Revision: 6})

	if err := s.Compact(ctx, 6); err != nil {
		t.Fatal(err)
	}
	if got := s.CompactRevision(); got != 6 {
		t.Fatalf("CompactRevision = %d, want 6", got)
	}
	// History before 6 is gone; 6 and later read exactly as before.
	for _, rev := range []int64{1, 5} {
		var ce *CompactedError
		if _, err := s.List(ctx, ListOptions{Revision: rev}); !errors.As(err, &ce) || ce.CompactRevision != 6 {
			t.Errorf("List at %d = %v, want CompactedError at 6", rev, err)
		}
	}
	after, err := s.List(ctx, ListOptions{Revision: 6})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("List at the compaction point changed (-before +after):\n%s", diff)
	}
	if _, err := s.Watch(ctx, nil, 5); !errors.Is(err, ErrCompacted) {
		t.Errorf("Watch from 5 = %v, want ErrCompacted", err)
	}
	w, err := s.Watch(ctx, nil, 6)
	if err != nil {
		t.Fatalf("Watch from the compaction point: %v", err)
	}
	if diff := cmp.Diff([]string{"PUT later=1 @7 c7 v1", "DELETE later=1 @8 c7 v0", "PUT live=4 @9 c1 v4"}, collect(t, w, 3)); diff != "" {
		t.Errorf("watch from 6 (-want +got):\n%s", diff)
	}

	// Superseded versions and the deleted key are physically gone; the
	// latest value of a live key is never dropped.
	for key, want := range map[string]int{"live": 2 /* @5 kept for reads at 6, @9 */, "dead": 0, "still": 1, "later": 2} {
		if got := versionCount(t, s, key); got != want {
			t.Errorf("%s has %d versions after compaction, want %d", key, got, want)
		}
	}

	// Compacting again: same point is a no-op, older fails, future fails.
	if err := s.Compact(ctx, 6); err != nil {
		t.Errorf("Compact to the same point = %v, want nil", err)
	}
	if err := s.Compact(ctx, 3); !errors.Is(err, ErrCompacted) {
		t.Errorf("Compact to an older point = %v, want ErrCompacted", err)
	}
	if err := s.Compact(ctx, 10); !errors.Is(err, ErrFutureRevision) {
		t.Errorf("Compact to a future revision = %v, want ErrFutureRevision", err)
	}

	// Compacting to the head keeps every live value and the revision.
	if err := s.Compact(ctx, 9); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, cfg)
	if s.Revision() != 9 || s.CompactRevision() != 9 {
		t.Fatalf("after reopen: revision %d compact %d, want 9 9", s.Revision(), s.CompactRevision())
	}
	res, err := s.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"live=4", "still=1"}, kvStrings(res.KVs)); diff != "" {
		t.Errorf("after compaction to head and reopen (-want +got):\n%s", diff)
	}
	if got := versionCount(t, s, "live"); got != 1 {
		t.Errorf("live has %d versions, want 1", got)
	}
	if r := mustPut(t, s, "new", "1"); r != 10 {
		t.Errorf("next revision = %d, want 10", r)
	}
}

// TestCompactResumesAfterCrash leaves a recorded compaction intent behind,
// as a crash between recording it and finishing would, and checks Open
// finishes the compaction.
func TestCompactResumesAfterCrash(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		mustPut(t, s, "k", fmt.Sprint(i))
	}
	if err := s.db.Set(metaCompacting, revSuffixPlain(7), nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, cfg)
	if s.CompactRevision() != 7 {
		t.Fatalf("CompactRevision after reopen = %d, want 7", s.CompactRevision())
	}
	if _, err := s.getRaw(metaCompacting); !errors.Is(err, ErrNotFound) {
		t.Errorf("compaction intent still recorded: %v", err)
	}
	if got := versionCount(t, s, "k"); got != 4 { // @7 (for reads at 7), 8, 9, 10
		t.Errorf("k has %d versions, want 4", got)
	}
	w, err := s.Watch(ctx, nil, 7)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"PUT k=7 @8 c1 v8", "PUT k=8 @9 c1 v9", "PUT k=9 @10 c1 v10"}, collect(t, w, 3)); diff != "" {
		t.Errorf("watch from 7 (-want +got):\n%s", diff)
	}
}

func revSuffixPlain(rev int64) []byte {
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = byte(rev)
		rev >>= 8
	}
	return b
}

// TestCompactByPolicy drives the automatic policy with a fake clock: it
// keeps both the last RetainRevisions revisions and RetainDuration.
func TestCompactByPolicy(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := testConfig(t)
	cfg.Now = func() time.Time { return now }
	cfg.RetainRevisions = 5
	cfg.RetainDuration = time.Minute
	s := openTest(t, cfg)
	// Revisions 1..20, one every 10 s: revision r is at (r-1)*10s.
	for r := 1; r <= 20; r++ {
		mustPut(t, s, "k", fmt.Sprint(r))
		now = now.Add(10 * time.Second)
	}
	// now = 200 s. Time keeps revisions after 140 s (revision 15 is at
	// 140 s, so compact to 15); count keeps 16..20 (compact to 15 too).
	got, err := s.compactByPolicy(ctx)
	if err != nil || got != 15 {
		t.Fatalf("compactByPolicy = %d, %v; want 15", got, err)
	}
	// Nothing new to drop: no compaction.
	if got, err := s.compactByPolicy(ctx); err != nil || got != 0 {
		t.Fatalf("second compactByPolicy = %d, %v; want 0", got, err)
	}
	// Ten minutes after revisions 21..30 the time window keeps nothing, but the count still
	// keeps the last 5 revisions.
	for r := 21; r <= 30; r++ {
		mustPut(t, s, "k", fmt.Sprint(r))
	}
	now = now.Add(10 * time.Minute)
	if got, err := s.compactByPolicy(ctx); err != nil || got != 25 {
		t.Fatalf("compactByPolicy after 10 min = %d, %v; want 25", got, err)
	}
}

// TestAutoCompaction runs the real background loop.
func TestAutoCompaction(t *testing.T) {
	cfg := testConfig(t)
	cfg.CompactionInterval = time.Millisecond
	cfg.RetainRevisions = 3
	cfg.RetainDuration = time.Nanosecond
	s := openTest(t, cfg)
	for i := 0; i < 10; i++ {
		mustPut(t, s, "k", fmt.Sprint(i))
	}
	waitFor(t, "automatic compaction to revision 7", func() bool { return s.CompactRevision() == 7 })
}
