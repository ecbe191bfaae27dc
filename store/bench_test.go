package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// The benchmarks below back the figures in README.md. They all run on a real
// disk (b.TempDir) with synced writes: the default config except automatic
// compaction off and logs discarded (testConfig). Reproduce with
//
//	go test ./store/ -run '^$' -bench . -benchtime 3s -count 1
//
// Each also runs quickly with -benchtime=1x (a smoke test).

// benchValueSize is the size of the values written by the benchmarks.
const benchValueSize = 100

var benchValue = bytes.Repeat([]byte{'x'}, benchValueSize)

// benchKey appends prefix and i as 16 fixed-width hex digits to dst, so that
// keys sort in the order of i.
func benchKey(dst []byte, prefix string, i int) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, prefix...)
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, hex[(uint64(i)>>shift)&0xf])
	}
	return dst
}

// runWriters calls write(i, buf) for every i in [0, total) from n goroutines
// (each i once; buf is a per-goroutine scratch buffer) and returns the wall
// time it took. It stops early on the first error.
func runWriters(n, total int, write func(i int, buf []byte) ([]byte, error)) (time.Duration, error) {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		failed   atomic.Bool
	)
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				var err error
				if buf, err = write(i, buf[:0]); err != nil {
					errOnce.Do(func() { firstErr = err })
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), firstErr
}

// percentileMs returns the p-th percentile (0 < p ≤ 100, nearest rank) of
// sorted, in milliseconds.
func percentileMs(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.5) - 1
	rank = min(max(rank, 0), len(sorted)-1)
	return float64(sorted[rank]) / float64(time.Millisecond)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func openBenchStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(testConfig(b))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
	return s
}

// openBenchPebble opens a raw Pebble DB with the options Open gives the
// store's (default cache and memtable sizes, newest format, logs discarded).
func openBenchPebble(b *testing.B) *pebble.DB {
	b.Helper()
	cfg := testConfig(b).withDefaults()
	cache := pebble.NewCache(cfg.CacheSize)
	defer cache.Unref()
	db, err := pebble.Open(cfg.Path, &pebble.Options{
		Cache:              cache,
		MemTableSize:       cfg.MemTableSize,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{cfg.Logger},
	})
	if err != nil {
		b.Fatalf("pebble.Open: %v", err)
	}
	b.Cleanup(func() {
		if err := db.Close(); err != nil {
			b.Errorf("pebble Close: %v", err)
		}
	})
	return db
}

// storePut writes key i under prefix with one synced single-put Txn.
func storePut(s *Store, prefix string) func(i int, buf []byte) ([]byte, error) {
	ctx := context.Background()
	return func(i int, buf []byte) ([]byte, error) {
		buf = benchKey(buf, prefix, i)
		_, err := s.Txn(ctx, Txn{Ops: []Op{Put(buf, benchValue)}})
		return buf, err
	}
}

// pebbleSet writes key i under prefix with one synced raw Pebble Set.
func pebbleSet(db *pebble.DB, prefix string) func(i int, buf []byte) ([]byte, error) {
	return func(i int, buf []byte) ([]byte, error) {
		buf = benchKey(buf, prefix, i)
		return buf, db.Set(buf, benchValue, pebble.Sync)
	}
}

var benchWriters = []int{1, 8, 64}

// BenchmarkTxnPut measures synced single-put Txns of 100-byte values to
// distinct keys from N concurrent writers: throughput and per-Txn latency.
func BenchmarkTxnPut(b *testing.B) {
	for _, n := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", n), func(b *testing.B) {
			s := openBenchStore(b)
			put := storePut(s, "bench/")
			lat := make([]time.Duration, b.N)
			b.ResetTimer()
			elapsed, err := runWriters(n, b.N, func(i int, buf []byte) ([]byte, error) {
				start := time.Now()
				buf, err := put(i, buf)
				lat[i] = time.Since(start)
				return buf, err
			})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
			b.ReportMetric(percentileMs(lat, 50), "p50-ms")
			b.ReportMetric(percentileMs(lat, 99), "p99-ms")
		})
	}
}

// BenchmarkRawPebbleSet is the baseline of BenchmarkTxnPut: synced raw
// Pebble Sets of 100-byte values to distinct keys from N writers, with the
// store's Pebble options.
func BenchmarkRawPebbleSet(b *testing.B) {
	for _, n := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", n), func(b *testing.B) {
			db := openBenchPebble(b)
			b.ResetTimer()
			elapsed, err := runWriters(n, b.N, pebbleSet(db, "bench/"))
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
		})
	}
}

// BenchmarkTxnPutVsPebble64 compares the store with raw Pebble at 64
// writers in one run: it interleaves rounds (store, Pebble, store, …) so that
// both see the same machine and disk conditions. b.N writes are split
// evenly over the rounds of each side (-benchtime 120000x gives rounds of
// 20,000 writes). It reports the median throughput of each side and their
// ratio.
func BenchmarkTxnPutVsPebble64(b *testing.B) {
	const (
		writers = 64
		pairs   = 6
	)
	s := openBenchStore(b)
	db := openBenchPebble(b)
	perRound := max(1, (b.N+pairs-1)/pairs)
	var storeRates, pebbleRates []float64
	var storeCPU, pebbleCPU time.Duration
	b.ResetTimer()
	for r := range pairs {
		prefix := fmt.Sprintf("round%02d/", r)
		cpu := processCPU(b)
		d, err := runWriters(writers, perRound, storePut(s, prefix))
		if err != nil {
			b.Fatal(err)
		}
		storeRates = append(storeRates, float64(perRound)/d.Seconds())
		storeCPU += processCPU(b) - cpu
		cpu = processCPU(b)
		d, err = runWriters(writers, perRound, pebbleSet(db, prefix))
		if err != nil {
			b.Fatal(err)
		}
		pebbleRates = append(pebbleRates, float64(perRound)/d.Seconds())
		pebbleCPU += processCPU(b) - cpu
	}
	b.StopTimer()
	sm, pm := median(storeRates), median(pebbleRates)
	b.ReportMetric(sm, "store-writes/s")
	b.ReportMetric(pm, "pebble-writes/s")
	b.ReportMetric(sm/pm, "ratio")
	// CPU per write (whole process, so including the background work the
	// writes cause) hardly depends on what else the machine runs.
	writes := float64(pairs * perRound)
	b.ReportMetric(float64(storeCPU)/float64(time.Microsecond)/writes, "store-cpu-us/write")
	b.ReportMetric(float64(pebbleCPU)/float64(time.Microsecond)/writes, "pebble-cpu-us/write")
}

// BenchmarkList10k measures one full List (no limit) of 10,000 keys under a
// prefix. Around them are unrelated keys before and after the prefix; under
// it, every 10th key has 4 versions and 500 more keys are deleted
// (tombstones), so List skips old versions and deleted keys. "memtable"
// lists right after loading; "flushed" after flushing Pebble's memtables to
// sstables.
func BenchmarkList10k(b *testing.B) {
	for _, flushed := range []bool{false, true} {
		name := "memtable"
		if flushed {
			name = "flushed"
		}
		b.Run(name, func(b *testing.B) {
			s := openBenchStore(b)
			loadList10k(b, s)
			if flushed {
				if err := s.db.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			opts := ListOptions{Prefix: []byte("list/")}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				res, err := s.List(ctx, opts)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.KVs) != 10_000 || res.More {
					b.Fatalf("List returned %d keys (more %v), want 10000", len(res.KVs), res.More)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(time.Millisecond), "ms/list")
		})
	}
}

// loadList10k writes the data set of BenchmarkList10k in Txns of up to 100
// ops.
func loadList10k(b *testing.B, s *Store) {
	b.Helper()
	ctx := context.Background()
	const chunk = 100
	writeAll := func(keys [][]byte, op func(key []byte) Op) {
		for len(keys) > 0 {
			n := min(chunk, len(keys))
			ops := make([]Op, n)
			for i, k := range keys[:n] {
				ops[i] = op(k)
			}
			if _, err := s.Txn(ctx, Txn{Ops: ops}); err != nil {
				b.Fatal(err)
			}
			keys = keys[n:]
		}
	}
	put := func(k []byte) Op { return Put(k, benchValue) }
	keys := func(prefix string, from, to, step int) [][]byte {
		var ks [][]byte
		for i := from; i < to; i += step {
			ks = append(ks, benchKey(nil, prefix, i))
		}
		return ks
	}
	// Unrelated keys sorting before and after "list/".
	writeAll(keys("list-other/", 0, 1000, 1), put)
	writeAll(keys("list0/", 0, 1000, 1), put)
	// 10,500 keys under the prefix: odd ones from 1 to 999 get deleted later.
	writeAll(keys("list/", 0, 10_500, 1), put)
	// Every 10th live key gets 3 more versions.
	for range 3 {
		writeAll(keys("list/", 1000, 10_500, 10), put)
	}
	writeAll(keys("list/", 1, 1000, 2), Delete)
}

// BenchmarkWatchFanout1000 measures how long a change takes to reach 1,000
// concurrent watchers of the same prefix. One writer commits one single-put
// Txn at a time and waits until every watcher has received it before the
// next, so each figure is the latency of one change, not of a backlog. Each
// watcher records its receive time; at the end the deliveries (b.N × 1,000)
// give percentiles measured from just before Txn was called (p50-ms, p99-ms:
// this includes the Txn's own fsync, so it bounds the latency from commit
// from above) and from Txn's return (ack-p50-ms, ack-p99-ms; negative when a
// watcher got the event before the writer got its answer, since the store
// publishes a change before it answers the caller).
func BenchmarkWatchFanout1000(b *testing.B) {
	const watchers = 1000
	s := openBenchStore(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	put := storePut(s, "watch/")
	var keyBuf []byte
	var err error
	if keyBuf, err = put(0, keyBuf[:0]); err != nil {
		b.Fatal(err)
	}
	// Events are numbered by revision: event i (0: warm-up) is at base+1+i.
	base := s.Revision()
	events := b.N + 1

	epoch := time.Now() // all times are monotonic offsets from epoch
	recv := make([][]time.Duration, watchers)
	var (
		received atomic.Int64 // deliveries so far
		allIn    = make(chan struct{}, 1)
		wg       sync.WaitGroup
	)
	for w := range watchers {
		watch, err := s.Watch(ctx, []byte("watch/"), base)
		if err != nil {
			b.Fatal(err)
		}
		times := make([]time.Duration, events)
		recv[w] = times
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range watch.Events() {
				now := time.Since(epoch)
				if i := ev.KV.ModRevision - base - 1; i >= 0 && i < int64(events) {
					times[i] = now
				}
				if received.Add(1)%watchers == 0 {
					allIn <- struct{}{}
				}
			}
			if err := watch.Err(); !errors.Is(err, context.Canceled) {
				b.Errorf("watch ended: %v", err)
			}
		}()
	}
	stop := func() {
		cancel()
		wg.Wait()
	}
	defer stop()

	called := make([]time.Duration, events)
	returned := make([]time.Duration, events)
	for i := range events {
		if i == 1 {
			b.ResetTimer()
		}
		called[i] = time.Since(epoch)
		if keyBuf, err = put(i+1, keyBuf[:0]); err != nil {
			b.Fatal(err)
		}
		returned[i] = time.Since(epoch)
		select {
		case <-allIn:
		case <-time.After(30 * time.Second):
			b.Fatalf("event %d: %d of %d deliveries after 30s", i, received.Load()-int64(i)*watchers, watchers)
		}
	}
	b.StopTimer()
	stop()

	fromCall := make([]time.Duration, 0, b.N*watchers)
	fromAck := make([]time.Duration, 0, b.N*watchers)
	for _, times := range recv {
		for i := 1; i < events; i++ { // event 0 is the warm-up
			fromCall = append(fromCall, times[i]-called[i])
			fromAck = append(fromAck, times[i]-returned[i])
		}
	}
	slices.Sort(fromCall)
	slices.Sort(fromAck)
	b.ReportMetric(percentileMs(fromCall, 50), "p50-ms")
	b.ReportMetric(percentileMs(fromCall, 99), "p99-ms")
	b.ReportMetric(percentileMs(fromAck, 50), "ack-p50-ms")
	b.ReportMetric(percentileMs(fromAck, 99), "ack-p99-ms")
}
