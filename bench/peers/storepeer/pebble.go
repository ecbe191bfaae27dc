package main

import (
	"fmt"
	"log"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// quiet drops Pebble's logs.
type quiet struct{}

func (quiet) Infof(string, ...any)              {}
func (quiet) Errorf(string, ...any)             {}
func (quiet) Fatalf(format string, args ...any) { log.Fatalf(format, args...) }

// runPebble runs a workload on raw Pebble in dir.
func runPebble(dir, workload string, writers, n, keys, value int) sample {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
	if err != nil {
		log.Fatalf("storepeer: pebble: %v", err)
	}
	defer db.Close()
	val := make([]byte, value)
	key := func(i int) []byte { return fmt.Appendf(nil, "/bench/k%08d", i) }
	switch workload {
	case "puts":
		return closed(writers, n, func(i int) error { return db.Set(key(i), val, pebble.Sync) })
	case "list":
		b := db.NewBatch()
		for j := range keys {
			b.Set(key(j), val, nil)
		}
		if err := b.Commit(pebble.Sync); err != nil {
			log.Fatalf("storepeer: fill: %v", err)
		}
		return closed(1, n, func(int) error {
			it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte("/bench/"), UpperBound: []byte("/bench0")})
			if err != nil {
				return err
			}
			var kvs [][2][]byte
			for it.First(); it.Valid(); it.Next() {
				kvs = append(kvs, [2][]byte{slices.Clone(it.Key()), slices.Clone(it.Value())})
			}
			if err := it.Close(); err != nil {
				return err
			}
			if len(kvs) != keys {
				return fmt.Errorf("listed %d keys, want %d", len(kvs), keys)
			}
			return nil
		})
	}
	log.Fatalf("storepeer: raw Pebble has no %s workload", workload)
	return sample{}
}
