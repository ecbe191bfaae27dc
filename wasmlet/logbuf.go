package wasmlet

import (
	"bytes"
	"context"
	"sync"
)

// logRun is the log of one run of a pod's instance (or, for http pods, of
// the handler's life): a ring buffer of the last max bytes of its stdout and
// stderr. It grows as it is written, so a quiet pod costs nothing. Safe for
// concurrent use; it is the io.Writer given to the sandbox.
type logRun struct {
	mu      sync.Mutex
	max     int
	buf     []byte // the ring: in order once full, buf[head:] then buf[:head]
	head    int
	written int64 // bytes ever written
	closed  bool
	notify  chan struct{} // closed at the next write or close; nil if no one waits
}

func newLogRun(max int) *logRun { return &logRun{max: max} }

// Write appends p, dropping the oldest bytes beyond the bound.
func (r *logRun) Write(p []byte) (int, error) {
	n := len(p)
	if n == 0 {
		return 0, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.written += int64(n)
	switch {
	case n >= r.max:
		r.buf = append(r.buf[:0], p[n-r.max:]...)
		r.head = 0
	case len(r.buf) < r.max:
		room := r.max - len(r.buf)
		if n <= room {
			r.buf = append(r.buf, p...)
			break
		}
		r.buf = append(r.buf, p[:room]...)
		r.head = copy(r.buf, p[room:])
	default:
		for len(p) > 0 {
			c := copy(r.buf[r.head:], p)
			p = p[c:]
			r.head = (r.head + c) % r.max
		}
	}
	r.wakeLocked()
	return n, nil
}

func (r *logRun) wakeLocked() {
	if r.notify != nil {
		close(r.notify)
		r.notify = nil
	}
}

// close marks the run ended: followers return once they have read it all.
func (r *logRun) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.wakeLocked()
}

// from returns the bytes kept from absolute offset off on (or from the
// oldest kept byte if off is older), the offset after them, whether the run
// has ended, and a channel closed when more arrives.
func (r *logRun) from(off int64) (data []byte, next int64, closed bool, more <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := r.written - int64(len(r.buf))
	off = max(off, start)
	skip := int(off - start)
	if len(r.buf) < r.max || r.head == 0 {
		data = append(data, r.buf[skip:]...)
	} else {
		ordered := make([]byte, 0, len(r.buf))
		ordered = append(append(ordered, r.buf[r.head:]...), r.buf[:r.head]...)
		data = ordered[skip:]
	}
	if !r.closed {
		if r.notify == nil {
			r.notify = make(chan struct{})
		}
		more = r.notify
	}
	return data, r.written, r.closed, more
}

// LogOptions select what Logs returns.
type LogOptions struct {
	// Follow streams new output until the run ends or ctx does.
	Follow bool
	// TailLines, if positive, starts with only the last this many lines.
	TailLines int
	// Previous reads the pod's previous run (the one before the last
	// restart) instead of the current one.
	Previous bool
}

// stream sends the run's log to out as options say.
func (r *logRun) stream(ctx context.Context, opts LogOptions, out func([]byte) error) error {
	data, off, closed, more := r.from(0)
	if opts.TailLines > 0 {
		data = tailLines(data, opts.TailLines)
	}
	for {
		if len(data) > 0 {
			if err := out(data); err != nil {
				return err
			}
		}
		if !opts.Follow || closed {
			return nil
		}
		select {
		case <-more:
		case <-ctx.Done():
			return nil
		}
		data, off, closed, more = r.from(off)
	}
}

// tailLines returns the last n lines of data (a final line without a
// newline counts).
func tailLines(data []byte, n int) []byte {
	end := len(data)
	if end > 0 && data[end-1] == '\n' {
		end--
	}
	for i := 0; i < n; i++ {
		j := bytes.LastIndexByte(data[:end], '\n')
		if j < 0 {
			return data
		}
		end = j
	}
	return data[end+1:]
}
