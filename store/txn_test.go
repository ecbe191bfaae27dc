package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestTxnRevisionsAndVersions(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testConfig(t))
	steps := []struct {
		name string
		op   Op
		want KeyValue // after the step, for key "k"; zero: absent
		rev  int64
	}{
		{"create", Put([]byte("k"), []byte("v1")), KeyValue{Key: []byte("k"), Value: []byte("v1"), CreateRevision: 1, ModRevision: 1, Version: 1}, 1},
		{"update", Put([]byte("k"), []byte("v2")), KeyValue{Key: []byte("k"), Value: []byte("v2"), CreateRevision: 1, ModRevision: 2, Version: 2}, 2},
		{"other key", Put([]byte("x"), []byte("x")), KeyValue{Key: []byte("k"), Value: []byte("v2"), CreateRevision: 1, ModRevision: 2, Version: 2}, 3},
		{"delete", Delete([]byte("k")), KeyValue{}, 4},
		{"delete absent is a no-op", Delete([]byte("k")), KeyValue{}, 4},
		{"recreate starts a new life", Put([]byte("k"), []byte("v3")), KeyValue{Key: []byte("k"), Value: []byte("v3"), CreateRevision: 5, ModRevision: 5, Version: 1}, 5},
	}
	for _, st := range steps {
		resp, err := s.Txn(ctx, Txn{Ops: []Op{st.op}})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if resp.Revision != st.rev || s.Revision() != st.rev {
			t.Fatalf("%s: revision %d (store %d), want %d", st.name, resp.Revision, s.Revision(), st.rev)
		}
		got, err := s.Get(ctx, []byte("k"))
		if st.want.Key == nil {
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s: Get = %+v, %v; want ErrNotFound", st.name, got, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: Get: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Fatalf("%s: Get (-want +got):\n%s", st.name, diff)
		}
	}
}

func TestTxnCompares(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testConfig(t))
	mustPut(t, s, "a", "1")    // rev 1
	mustPut(t, s, "a", "2")    // rev 2: a created 1, mod 2
	mustPut(t, s, "gone", "x") // rev 3
	mustDelete(t, s, "gone")   // rev 4

	tests := []struct {
		name     string
		compares []Compare
		failAt   int   // -1: succeeds
		actual   int64 // for a failure
	}{
		{"mod revision equal", []Compare{ModRevisionIs([]byte("a"), 2)}, -1, 0},
		{"mod revision stale", []Compare{ModRevisionIs([]byte("a"), 1)}, 0, 2},
		{"create revision equal", []Compare{CreateRevisionIs([]byte("a"), 1)}, -1, 0},
		{"create revision differs", []Compare{CreateRevisionIs([]byte("a"), 2)}, 0, 1},
		{"absent holds for a never-written key", []Compare{Absent([]byte("nope"))}, -1, 0},
		{"absent holds for a deleted key", []Compare{Absent([]byte("gone"))}, -1, 0},
		{"absent fails for a live key", []Compare{Absent([]byte("a"))}, 0, 2},
		{"second of two fails", []Compare{Absent([]byte("nope")), ModRevisionIs([]byte("a"), 7)}, 1, 2},
		{"first failure is reported", []Compare{ModRevisionIs([]byte("a"), 7), Absent([]byte("a"))}, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Revision()
			key := []byte("target-" + tt.name)
			resp, err := s.Txn(ctx, Txn{Compares: tt.compares, Ops: []Op{Put(key, []byte("v"))}})
			if tt.failAt < 0 {
				if err != nil {
					t.Fatalf("Txn: %v", err)
				}
				if resp.Revision != before+1 || !resp.Changed {
					t.Fatalf("Txn = %+v, want revision %d changed", resp, before+1)
				}
				return
			}
			var cf *CompareFailedError
			if !errors.As(err, &cf) || !errors.Is(err, ErrCompareFailed) {
				t.Fatalf("Txn error = %v, want *CompareFailedError", err)
			}
			want := &CompareFailedError{Index: tt.failAt, Compare: tt.compares[tt.failAt], Actual: tt.actual, Revision: before}
			if diff := cmp.Diff(want, cf); diff != "" {
				t.Errorf("CompareFailedError (-want +got):\n%s", diff)
			}
			if s.Revision() != before {
				t.Errorf("revision moved from %d to %d on a failed txn", before, s.Revision())
			}
			if _, err := s.Get(ctx, key); !errors.Is(err, ErrNotFound) {
				t.Errorf("failed txn wrote its op: Get = %v", err)
			}
		})
	}
}

func TestTxnAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testConfig(t))
	mustPut(t, s, "k1", "old1")
	mustPut(t, s, "k2", "old2")
	_, err := s.Txn(ctx, Txn{
		Compares: []Compare{ModRevisionIs([]byte("k1"), 1), ModRevisionIs([]byte("k2"), 99)},
		Ops:      []Op{Put([]byte("k1"), []byte("new1")), Delete([]byte("k2")), Put([]byte("k3"), []byte("new3"))},
	})
	if !errors.Is(err, ErrCompareFailed) {
		t.Fatalf("Txn error = %v, want ErrCompareFailed", err)
	}
	got, _ := s.List(ctx, ListOptions{})
	if diff := cmp.Diff([]string{"k1=old1", "k2=old2"}, kvStrings(got.KVs)); diff != "" {
		t.Fatalf("state after failed txn (-want +got):\n%s", diff)
	}

	resp, err := s.Txn(ctx, Txn{
		Compares: []Compare{ModRevisionIs([]byte("k1"), 1), ModRevisionIs([]byte("k2"), 2)},
		Ops:      []Op{Put([]byte("k1"), []byte("new1")), Delete([]byte("k2")), Put([]byte("k3"), []byte("new3"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Revision != 3 {
		t.Fatalf("multi-op txn revision = %d, want 3 (one revision per txn)", resp.Revision)
	}
	got, _ = s.List(ctx, ListOptions{})
	if diff := cmp.Diff([]string{"k1=new1", "k3=new3"}, kvStrings(got.KVs)); diff != "" {
		t.Fatalf("state after txn (-want +got):\n%s", diff)
	}
	for _, kv := range got.KVs {
		if kv.ModRevision != 3 {
			t.Errorf("%s mod revision %d, want 3", kv.Key, kv.ModRevision)
		}
	}
}

func TestTxnNoChange(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testConfig(t))
	mustPut(t, s, "a", "1")
	for _, txn := range []Txn{
		{},
		{Compares: []Compare{ModRevisionIs([]byte("a"), 1)}},
		{Ops: []Op{Delete([]byte("absent"))}},
	} {
		resp, err := s.Txn(ctx, txn)
		if err != nil {
			t.Fatal(err)
		}
		if resp != (TxnResponse{Revision: 1}) {
			t.Errorf("Txn(%+v) = %+v, want revision 1 unchanged", txn, resp)
		}
	}
	if s.Revision() != 1 {
		t.Fatalf("revision = %d, want 1", s.Revision())
	}
}

func TestTxnInvalid(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.MaxValueSize = 1024
	cfg.MaxKeySize = 64
	cfg.MaxTxnOps = 4
	s := openTest(t, cfg)
	mustPut(t, s, "a", "1")
	big := bytes.Repeat([]byte("x"), 1025)
	tests := []struct {
		name string
		txn  Txn
		want string // substring of the error
	}{
		{"empty key in op", Txn{Ops: []Op{Put(nil, []byte("v"))}}, "txn op 0: store: invalid request: empty key"},
		{"empty key in compare", Txn{Compares: []Compare{Absent(nil)}}, "txn compare 0: store: invalid request: empty key"},
		{"oversized value", Txn{Ops: []Op{Put([]byte("a"), nil), Put([]byte("b"), big)}}, `txn op 1 (key "b"): value of 1025 bytes exceeds the 1024-byte limit`},
		{"oversized key", Txn{Ops: []Op{Put(bytes.Repeat([]byte("k"), 65), nil)}}, "key of 65 bytes exceeds the 64-byte limit"},
		{"too many ops", Txn{Ops: []Op{Put([]byte("1"), nil), Put([]byte("2"), nil), Put([]byte("3"), nil), Put([]byte("4"), nil), Put([]byte("5"), nil)}}, "5 compares and ops, more than the limit of 4"},
		{"duplicate key", Txn{Ops: []Op{Put([]byte("d"), nil), Delete([]byte("d"))}}, `txn op 1: key "d" is written twice`},
		{"unknown op", Txn{Ops: []Op{{Type: 9, Key: []byte("a")}}}, "unknown op type 9"},
		{"unknown compare target", Txn{Compares: []Compare{{Key: []byte("a"), Target: 9}}}, "unknown target 9"},
		{"negative compare revision", Txn{Compares: []Compare{ModRevisionIs([]byte("a"), -1)}}, "negative revision -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Txn(ctx, tt.txn)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Txn error = %v, want ErrInvalid containing %q", err, tt.want)
			}
			if s.Revision() != 1 {
				t.Fatalf("invalid txn changed the revision to %d", s.Revision())
			}
		})
	}
	if _, err := s.Get(ctx, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Get(empty key) = %v, want ErrInvalid", err)
	}
}

func TestTxnAfterClose(t *testing.T) {
	s, err := Open(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ctx := context.Background()
	if _, err := s.Txn(ctx, Txn{Ops: []Op{Put([]byte("a"), nil)}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Txn after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Get(ctx, []byte("a")); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if _, err := s.List(ctx, ListOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("List after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Watch(ctx, nil, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// TestConcurrentTxnsSerialize checks that concurrent compare-and-swap
// increments never lose an update: each success saw the latest value.
func TestConcurrentTxnsSerialize(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, testConfig(t))
	mustPut(t, s, "counter", "0")
	const workers, increments = 8, 25
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for done := 0; done < increments; {
				kv, err := s.Get(ctx, []byte("counter"))
				if err != nil {
					errc <- err
					return
				}
				n := atoi(string(kv.Value))
				_, err = s.Txn(ctx, Txn{
					Compares: []Compare{ModRevisionIs(kv.Key, kv.ModRevision)},
					Ops:      []Op{Put(kv.Key, []byte(itoa(n+1)))},
				})
				if errors.Is(err, ErrCompareFailed) {
					continue
				}
				if err != nil {
					errc <- err
					return
				}
				done++
			}
			errc <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	kv, err := s.Get(ctx, []byte("counter"))
	if err != nil {
		t.Fatal(err)
	}
	if got := atoi(string(kv.Value)); got != workers*increments {
		t.Fatalf("counter = %d, want %d", got, workers*increments)
	}
	if kv.Version != workers*increments+1 {
		t.Fatalf("version = %d, want %d", kv.Version, workers*increments+1)
	}
}

func kvStrings(kvs []KeyValue) []string {
	var out []string
	for _, kv := range kvs {
		out = append(out, string(kv.Key)+"="+string(kv.Value))
	}
	return out
}

var equateEmpty = cmpopts.EquateEmpty()

// TestTxnDuplicateKeyLarge checks the duplicate-key check of Txns too big
// for the pairwise comparison.
func TestTxnDuplicateKeyLarge(t *testing.T) {
	s := openTest(t, testConfig(t))
	var ops []Op
	for i := range 12 {
		ops = append(ops, Put([]byte(fmt.Sprintf("k%d", i)), nil))
	}
	ops[11] = Delete([]byte("k3"))
	_, err := s.Txn(context.Background(), Txn{Ops: ops})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `txn op 11: key "k3" is written twice`) {
		t.Fatalf("Txn error = %v", err)
	}
	if s.Revision() != 0 {
		t.Fatalf("revision %d", s.Revision())
	}
}
