package suite

import (
	"slices"
	"time"
)

// Sample is what one round of one side measured.
type Sample struct {
	// Ops is how many operations the round did in Elapsed.
	Ops     int
	Elapsed time.Duration
	// Latencies of single operations, if the side measures them.
	Latencies []time.Duration
}

// Throughput is operations per second.
func (s Sample) Throughput() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Ops) / s.Elapsed.Seconds()
}

// percentile of sorted durations (q in [0, 1]); 0 when empty.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)-1) + 0.5)
	return sorted[i]
}

// median of xs; 0 when empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
