package cpuref

import (
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/clattn/clattn/backend"
)

// bandwidthReps is the number of timed passes ReadBandwidth takes the median of.
const bandwidthReps = 5

// ReadBandwidth measures the host's read bandwidth in GB/s (1e9 bytes per
// second): every core sums its share of a buffer of the given size (at least
// 1 MiB; written first, so that its pages are real) with the widest vector
// loads it has (sumWords), the median of a few passes after one untimed pass. It is the floor a memory-bound operation such as a
// decode step is judged against (see package bench).
func (b *Backend) ReadBandwidth(bytes int) (float64, error) {
	const op = "ReadBandwidth"
	if err := b.open(op); err != nil {
		return 0, err
	}
	if bytes < 1<<20 {
		return 0, backend.ArgumentErrorf(op, "%d bytes, want at least 1 MiB", bytes)
	}
	if _, err := backend.CheckShape(op, []int{bytes / 4}, maxElements); err != nil {
		return 0, err
	}
	buf := make([]uint64, bytes/8)
	for i := range buf {
		buf[i] = uint64(i)
	}
	workers := runtime.GOMAXPROCS(0)
	sums := make([]uint64, workers) // stored so that the reads cannot be optimised away
	pass := func() time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sums[w] = sumWords(buf[len(buf)*w/workers : len(buf)*(w+1)/workers])
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	pass()
	times := make([]float64, bandwidthReps)
	for i := range times {
		times[i] = pass().Seconds()
	}
	slices.Sort(times)
	return float64(8*len(buf)) / times[len(times)/2] / 1e9, nil
}

// sumWordsGeneric is the sum of x in four independent chains: sumWords where
// there are no vector loads, and its tail.
func sumWordsGeneric(x []uint64) uint64 {
	var a, b, c, d uint64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a += x[i]
		b += x[i+1]
		c += x[i+2]
		d += x[i+3]
	}
	for ; i < len(x); i++ {
		a += x[i]
	}
	return a + b + c + d
}
