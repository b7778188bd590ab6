package parallel

import (
	"bytes"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFor checks that For calls the body once for each index, for counts
// below, at and above the number of cores, with one core and with several,
// and that it runs the calls on more than one goroutine where it can.
func TestFor(t *testing.T) {
	for _, procs := range []int{1, 4} {
		prev := runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, 3, 4, 5, 1000} {
			calls := make([]atomic.Int32, n)
			For(n, func(i int) { calls[i].Add(1) })
			for i := range calls {
				if c := calls[i].Load(); c != 1 {
					t.Fatalf("GOMAXPROCS %d, n %d: body(%d) called %d times", procs, n, i, c)
				}
			}
		}
		runtime.GOMAXPROCS(prev)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	meet(t)
	// Helpers parked after spinFor are woken by the next loop.
	time.Sleep(5 * spinFor)
	meet(t)
}

// meet checks that two calls of For's body that each wait for the other
// finish: they run at once.
func meet(t *testing.T) {
	t.Helper()
	var arrived atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		For(2, func(int) {
			arrived.Add(1)
			for arrived.Load() < 2 {
				runtime.Gosched()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("For(2) did not run its two calls at once")
	}
}

// TestForNestedAndConcurrent checks For inside For's body and For called from
// several goroutines at once: one holds the pool's helpers, the others start
// goroutines of their own, and every index of each runs exactly once.
func TestForNestedAndConcurrent(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	const outer, inner, callers = 7, 13, 5
	var calls [callers][outer * inner]atomic.Int32
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				For(outer, func(i int) {
					For(inner, func(j int) { calls[c][i*inner+j].Add(1) })
				})
			}
		}()
	}
	wg.Wait()
	for c := range callers {
		for i := range calls[c] {
			require.EqualValues(t, 20, calls[c][i].Load(), "caller %d, index %d", c, i)
		}
	}
}

// TestForReturnsAfterEveryCall checks that no call of body is running or
// starts once For has returned, also when a call on the calling goroutine
// panics (the panic reaches the caller).
func TestForReturnsAfterEveryCall(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, panics := range []bool{false, true} {
		var running, started atomic.Int32
		caller := goroutineID()
		body := func(int) {
			started.Add(1)
			running.Add(1)
			defer running.Add(-1)
			if panics && goroutineID() == caller {
				panic("body")
			}
			time.Sleep(100 * time.Microsecond)
		}
		func() {
			defer func() {
				require.Equal(t, panics, recover() != nil, "panic reaches the caller")
			}()
			For(64, body)
		}()
		require.Zero(t, running.Load(), "calls running after For returned (panic %v)", panics)
		n := started.Load()
		time.Sleep(2 * time.Millisecond)
		require.Equal(t, n, started.Load(), "calls started after For returned (panic %v)", panics)
		if !panics {
			require.EqualValues(t, 64, n)
		}
	}
}

// goroutineID is the calling goroutine's number, from its stack header.
func goroutineID() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	id, _ := strconv.Atoi(string(buf[:bytes.IndexByte(buf, ' ')]))
	return id
}

// BenchmarkFor is the cost of one For over every core with a short body (2
// us of work per index, one index per core), back to back as a model's
// operations run, and after a serial gap of 300 us (longer than spinFor:
// the helpers have parked). It reports the time until the last index
// started, which is what a wake-up costs the operation.
func BenchmarkFor(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	for _, gap := range []time.Duration{0, 300 * time.Microsecond} {
		b.Run("gap="+gap.String(), func(b *testing.B) {
			var lastStart time.Duration
			started := make([]time.Duration, workers)
			for b.Loop() {
				spin(gap)
				start := time.Now()
				For(workers, func(i int) {
					started[i] = time.Since(start)
					spin(2 * time.Microsecond)
				})
				lastStart += slices.Max(started)
			}
			b.ReportMetric(float64(lastStart.Microseconds())/float64(b.N), "us-to-last-start")
		})
	}
}

// spin keeps the calling goroutine busy for d.
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}
