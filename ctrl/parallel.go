package ctrl

import (
	"context"
	"errors"
	"strconv"
	"sync"
)

// Writes runs n writes, at most concurrency at once, and returns the
// highest revision they returned (to pass to WaitForRevision) and their
// errors joined.
func Writes(ctx context.Context, n, concurrency int, write func(ctx context.Context, i int) (revision string, err error)) (string, error) {
	var (
		mu   sync.Mutex
		maxR int64
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, max(concurrency, 1))
	)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			rev, err := write(ctx, i)
			r, _ := strconv.ParseInt(rev, 10, 64)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			maxR = max(maxR, r)
		})
	}
	wg.Wait()
	if maxR == 0 {
		return "", errors.Join(errs...)
	}
	return strconv.FormatInt(maxR, 10), errors.Join(errs...)
}
