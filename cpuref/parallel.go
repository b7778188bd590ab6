package cpuref

import (
	"runtime"

	"github.com/clattn/clattn/internal/parallel"
)

// parallelFor calls body(i) for every i in [0, n) on every core (see
// parallel.For).
func parallelFor(n int, body func(i int)) { parallel.For(n, body) }

// rowBlocks splits rows into blocks of at most size rows and calls body(lo, hi)
// for each block in parallel.
func rowBlocks(rows, size int, body func(lo, hi int)) {
	if rows <= 0 {
		return
	}
	size = max(size, 1)
	parallelFor((rows+size-1)/size, func(i int) {
		lo := i * size
		body(lo, min(lo+size, rows))
	})
}

// blockSize returns a block size of at most maxSize rows that still gives every
// core some blocks when rows is small, and at least minSize.
func blockSize(rows, minSize, maxSize int) int {
	per := (rows + 4*runtime.GOMAXPROCS(0) - 1) / (4 * runtime.GOMAXPROCS(0))
	return max(minSize, min(maxSize, per))
}

// evenBlockSize returns the size of blocks of at most maxSize rows (at least
// 1) that split rows into as many blocks for every core, of near-equal sizes,
// so that cores that start together also finish together.
func evenBlockSize(rows, maxSize int) int {
	workers := runtime.GOMAXPROCS(0)
	blocks := (rows + max(maxSize, 1) - 1) / max(maxSize, 1)
	blocks = (max(blocks, workers) + workers - 1) / workers * workers
	return max((rows+blocks-1)/blocks, 1)
}
