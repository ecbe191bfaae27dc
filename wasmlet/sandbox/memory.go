package sandbox

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// limitAllocator backs one instance's linear memory and caps it at a
// per-instance limit (wazero's own limit is per runtime). It records a
// refused growth, so an exit after it is classified OOMKilled.
type limitAllocator struct {
	limit   uint64
	refused atomic.Bool
	// overLimit: the memory's initial size was over the limit. wazero
	// cannot be refused the initial allocation, so it is granted and the
	// instance closed before it runs.
	overLimit bool
}

func (a *limitAllocator) Allocate(_, max uint64) experimental.LinearMemory {
	return &linearMemory{a: a, max: min(max, a.limit)}
}

type linearMemory struct {
	a   *limitAllocator
	max uint64
	buf []byte
}

// Reallocate grows the memory to size bytes, or returns nil (memory.grow
// returns -1 in the guest) beyond the limit.
func (m *linearMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		if m.buf == nil {
			m.a.overLimit = true
			m.buf = make([]byte, size)
			return m.buf
		}
		m.a.refused.Store(true)
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	// Grow geometrically like append, within the limit; the Go runtime
	// backs large slices with fresh zeroed pages, so the spare capacity
	// costs address space, not resident memory, until the guest uses it.
	c := min(max(size, uint64(cap(m.buf))*2), m.max)
	nb := make([]byte, size, c)
	copy(nb, m.buf)
	m.buf = nb
	return m.buf
}

func (m *linearMemory) Free() { m.buf = nil }
