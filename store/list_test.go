package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestListPrefixAndOrder(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testConfig(t))
	// Keys with 0x00 and 0xFF bytes and keys that prefix each other must
	// keep plain byte order and prefix semantics.
	for _, k := range []string{"b", "a\x00b", "ab", "a", "a\x00", "a\xff", "c/1", "a/2", "a/1"} {
		mustPut(t, s, k, "v:"+k)
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a", "a\x00", "a\x00b", "a/1", "a/2", "ab", "a\xff", "b", "c/1"}},
		{"a", []string{"a", "a\x00", "a\x00b", "a/1", "a/2", "ab", "a\xff"}},
		{"a\x00", []string{"a\x00", "a\x00b"}},
		{"a/", []string{"a/1", "a/2"}},
		{"a\xff", []string{"a\xff"}},
		{"z", nil},
	}
	for _, tt := range tests {
		res, err := s.List(ctx, ListOptions{Prefix: []byte(tt.prefix)})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, kv := range res.KVs {
			got = append(got, string(kv.Key))
			if string(kv.Value) != "v:"+string(kv.Key) {
				t.Errorf("value of %q = %q", kv.Key, kv.Value)
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("List(%q) (-want +got):\n%s", tt.prefix, diff)
		}
		if res.Revision != s.Revision() || res.More {
			t.Errorf("List(%q) revision %d more %v, want %d false", tt.prefix, res.Revision, res.More, s.Revision())
		}
	}
}

// TestListPaginationIsConsistent pages through a prefix while writers
// change it: every page read at the first page's revision sees exactly the
// state of that revision.
func TestListPaginationIsConsistent(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testConfig(t))
	for i := 0; i < 25; i++ {
		mustPut(t, s, fmt.Sprintf("p/%02d", i), "old")
	}
	mustDelete(t, s, "p/07")
	first, err := s.List(ctx, ListOptions{Prefix: []byte("p/"), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.KVs) != 10 || !first.More {
		t.Fatalf("first page: %d keys, more=%v", len(first.KVs), first.More)
	}
	// Writes after the first page: they must not show in later pages.
	mustPut(t, s, "p/15", "new")
	mustDelete(t, s, "p/20")
	mustPut(t, s, "p/99", "new")
	mustPut(t, s, "p/07", "new")

	got := kvStrings(first.KVs)
	page := first
	for page.More {
		page, err = s.List(ctx, ListOptions{Prefix: []byte("p/"), Limit: 10, After: page.KVs[len(page.KVs)-1].Key, Revision: first.Revision})
		if err != nil {
			t.Fatal(err)
		}
		if page.Revision != first.Revision {
			t.Fatalf("page revision %d, want %d", page.Revision, first.Revision)
		}
		got = append(got, kvStrings(page.KVs)...)
	}
	var want []string
	for i := 0; i < 25; i++ {
		if i != 7 {
			want = append(want, fmt.Sprintf("p/%02d=old", i))
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("paged listing (-want +got):\n%s", diff)
	}

	// The exact page boundary: a limit equal to what is left says no more.
	last, err := s.List(ctx, ListOptions{Prefix: []byte("p/"), After: []byte("p/20"), Limit: 4, Revision: first.Revision})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"p/21=old", "p/22=old", "p/23=old", "p/24=old"}, kvStrings(last.KVs)); diff != "" || last.More {
		t.Fatalf("last page more=%v (-want +got):\n%s", last.More, diff)
	}
}

func TestListAtRevision(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testConfig(t))
	mustPut(t, s, "k/a", "1") // 1
	mustPut(t, s, "k/b", "1") // 2
	mustPut(t, s, "k/a", "2") // 3
	mustDelete(t, s, "k/b")   // 4
	mustPut(t, s, "k/c", "1") // 5
	want := map[int64][]string{
		1: {"k/a=1"},
		2: {"k/a=1", "k/b=1"},
		3: {"k/a=2", "k/b=1"},
		4: {"k/a=2"},
		5: {"k/a=2", "k/c=1"},
	}
	for rev := int64(1); rev <= 5; rev++ {
		res, err := s.List(ctx, ListOptions{Prefix: []byte("k/"), Revision: rev})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want[rev], kvStrings(res.KVs)); diff != "" {
			t.Errorf("List at %d (-want +got):\n%s", rev, diff)
		}
	}
	if _, err := s.List(ctx, ListOptions{Revision: 6}); !errors.Is(err, ErrFutureRevision) {
		t.Errorf("List at a future revision = %v, want ErrFutureRevision", err)
	}
	if _, err := s.List(ctx, ListOptions{Limit: -1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("List with a negative limit = %v, want ErrInvalid", err)
	}
}
