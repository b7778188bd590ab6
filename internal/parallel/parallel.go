// Package parallel runs independent tasks on every core: the one parallel
// loop of the pure-Go backend and of the host-side work of the models (token
// embeddings, pooling).
package parallel

import (
	"runtime"
	"sync/atomic"
)

// For calls body(i) for every i in [0, n) from up to GOMAXPROCS goroutines,
// handing out indices one at a time so uneven tasks (causal attention blocks)
// balance. It returns when every call has returned, also when one on the
// calling goroutine panics (the panic then goes on). The calling goroutine
// runs indices itself, beside the pool's helpers (pool.go); a For that finds
// them taken by another (nested or concurrent) starts goroutines of its own.
// Either way a goroutine that starts after the indices are all done (waking
// a thread can take a hundred microseconds on a busy machine) is not waited
// for: it finds the loop closed and leaves without calling body.
func For(n int, body func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			body(i)
		}
		return
	}
	l := &loop{n: int64(n), body: body}
	l.seats.Store(int32(workers - 1))
	l.open.Store(true)
	pooled := pool.busy.CompareAndSwap(false, true)
	if pooled {
		pool.offer(l)
	} else {
		for range workers - 1 {
			go l.join()
		}
	}
	defer func() {
		l.close()
		if pooled {
			pool.release()
		}
	}()
	l.work()
}

// loop is one call of For. Indices are claimed one at a time from next.
// Other goroutines join while it is open and a seat is left, counted in
// active while they work; the caller closes it when it runs out of indices
// and waits for active to fall to zero.
type loop struct {
	n      int64
	body   func(int)
	next   atomic.Int64
	seats  atomic.Int32
	active atomic.Int32
	open   atomic.Bool
}

// work runs the loop's indices until none are left.
func (l *loop) work() {
	for {
		i := l.next.Add(1) - 1
		if i >= l.n {
			return
		}
		l.body(int(i))
	}
}

// join works on l if it is still open and has a seat left.
func (l *loop) join() {
	if l.seats.Add(-1) < 0 {
		return
	}
	l.active.Add(1)
	if l.open.Load() { // after active: close then waits for this goroutine
		l.work()
	}
	l.active.Add(-1)
}

// close stops l taking indices or goroutines, then waits until no joined
// goroutine is inside body.
func (l *loop) close() {
	l.next.Store(l.n)
	l.open.Store(false)
	for try := 0; l.active.Load() > 0; try++ {
		if try >= 64 {
			runtime.Gosched()
		}
	}
}
