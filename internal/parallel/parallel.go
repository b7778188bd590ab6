// Package parallel runs independent tasks on every core: the one parallel
// loop of the pure-Go backend and of the host-side work of the models (token
// embeddings, pooling).
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// For calls body(i) for every i in [0, n) from up to GOMAXPROCS goroutines,
// handing out indices one at a time so uneven tasks (causal attention blocks)
// balance. It returns when every call has returned.
func For(n int, body func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			body(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(workers)
	for range workers {
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				body(i)
			}
		}()
	}
	wg.Wait()
}
