package parallel

import (
	"runtime"
	"sync/atomic"
	"testing"
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
	// Two calls that each wait for the other finish only if they run at once.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	var arrived atomic.Int32
	For(2, func(int) {
		arrived.Add(1)
		for arrived.Load() < 2 {
			runtime.Gosched()
		}
	})
}
