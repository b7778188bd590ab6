// Package sgemm is a pure-Go single-precision general matrix multiply for the CPU backend.
//
// It follows the GotoBLAS/BLIS design: the operands are copied ("packed") into contiguous panels, which
// takes care of transposes and leading dimensions once, so that a register-blocked micro-kernel sees a
// single layout. Operands that are not transposed are the exception: the micro-kernel reads the rows of
// A, and for products of few rows the rows of nr values of B, in place (they are already consecutive
// values), and only a last micro-panel of A of fewer than mr rows, or panel of B of fewer than nr
// columns, is packed, which saves a copy of the operand per product. On amd64 the micro-kernel is Go assembly (AVX-512 or AVX2/FMA, chosen at run time);
// elsewhere, and with the purego or noasm build tags, a portable Go micro-kernel is used.
//
// Matrices are row-major: element (i, j) of a matrix with leading dimension ld is at index i*ld + j.
package sgemm

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clattn/clattn/internal/parallel"
)

// Cache blocking. Each goroutine packs a block of B of up to blockK×blockN (512 KiB), which stays in its
// L2 cache while every mr-row micro-panel of A (mr·blockK·4 bytes) is run against it from L1. Packed A,
// shared by the goroutines, holds up to blockM rows and as many columns as fit in maxPackedA values, so
// that A is packed only once.
const (
	blockM     = 1536
	blockK     = 256
	blockN     = 512
	maxPackedA = 1 << 20 // 4 MiB
)

// directBRows is the most rows of C for which B, not transposed, is read in place. A packed panel of B
// is contiguous in L1 for every micro-panel of A it meets: that pays back its copy where there are many
// (1024³ runs 10% slower with B in place, its rows 4 KiB apart); with few, as in attention's tiles of
// 128 queries, the copy costs more than it saves.
const directBRows = 256

// minParallelWork is the number of multiply-adds (m·n·k) that Gemm gives each goroutine at the least:
// starting a goroutine costs more than it saves on smaller products.
const minParallelWork = 128 * 128 * 128

// Gemm computes C = alpha*op(A)*op(B) + beta*C on row-major matrices, where op(X) is X or, when the
// matching trans flag is set, Xᵀ; op(A) is m×k, op(B) is k×n and C is m×n. It uses up to GOMAXPROCS
// goroutines. When beta is zero C is not read, so NaN or Inf in C does not propagate; when alpha is zero
// or k is zero A and B are not read and C becomes beta*C. Elements outside the views, such as padding
// between rows, are neither read nor written. The result does not depend on the number of goroutines.
//
// Gemm panics if a leading dimension is smaller than the row length of its view or a slice is too short
// for its view: those are programming errors of the caller.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	// At least minParallelWork multiply-adds a goroutine.
	threads := max(1, min(runtime.GOMAXPROCS(0), m*n*k/minParallelWork))
	gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads)
}

// GemmSerial is Gemm on the calling goroutine only, for callers that parallelise themselves, such as
// attention over independent heads.
func GemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 1)
}

// Half is a B operand stored as 16-bit patterns: IEEE binary16, or bfloat16
// where BFloat16 is set. Its panels are converted to float32 as they are packed,
// so the product runs at float32 speed while B is read at half the bytes.
type Half struct {
	Bits     []uint16
	BFloat16 bool
}

// GemmHalf is Gemm with a half-precision B (see Half).
func GemmHalf(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b Half, ldb int, beta float32, c []float32, ldc int) {
	threads := max(1, min(runtime.GOMAXPROCS(0), m*n*k/minParallelWork))
	gemmOf(transA, transB, m, n, k, alpha, a, lda, operandB{half: b}, ldb, beta, c, ldc, threads)
}

// GemmHalfSerial is GemmHalf on the calling goroutine only.
func GemmHalfSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b Half, ldb int, beta float32, c []float32, ldc int) {
	gemmOf(transA, transB, m, n, k, alpha, a, lda, operandB{half: b}, ldb, beta, c, ldc, 1)
}

// PackedB is op(B) copied once into the micro-kernel's panels (PackB), for several products with the same
// B, such as a layer's weights applied to one chunk of rows after another: each product then skips packing
// B. Its storage is the caller's.
type PackedB struct {
	k, n int
	data []float32
}

// PackedBSize is the number of values PackB needs for a k×n op(B).
func PackedBSize(k, n int) int { return k * ceilDiv(n, kernel.nr) * kernel.nr }

// PackB packs the k×n op(B) (B transposed when transB is set, as for Gemm) into dst, which holds at least
// PackedBSize(k, n) values: for each block of blockK rows from p0, the panels of nr columns one after
// another, as the sweep packs them, from dst[p0 * n rounded up to nr].
func PackB(dst []float32, transB bool, k, n int, b []float32, ldb int) PackedB {
	if transB {
		checkMatrix("B", n, k, b, ldb)
	} else {
		checkMatrix("B", k, n, b, ldb)
	}
	nr := kernel.nr
	panels := ceilDiv(n, nr)
	padded := panels * nr
	dst = dst[:k*padded]
	// Tasks of a run of panels of one block of rows each, a run per core
	// where B is large enough to pay for starting them.
	runs := 1
	if k*n >= minParallelPack {
		runs = max(1, min(runtime.GOMAXPROCS(0), panels))
	}
	parallel.For(ceilDiv(k, blockK)*runs, func(t int) {
		p0, run := t/runs*blockK, t%runs
		kb := min(blockK, k-p0)
		q0, q1 := panels*run/runs, panels*(run+1)/runs
		if q0 < q1 {
			packB(dst[p0*padded+q0*kb*nr:], transB, b, ldb, p0, kb, q0*nr, min(n, q1*nr)-q0*nr, nr, kernel.transpose)
		}
	})
	return PackedB{k: k, n: n, data: dst}
}

// minParallelPack is the number of values of B from which PackB shares its
// panels out between the cores (a 384 x 384 projection weight has 147456).
const minParallelPack = 1 << 15

// GemmPacked is Gemm with op(B) packed by PackB; its result is bit for bit Gemm's.
func GemmPacked(transA bool, m, n, k int, alpha float32, a []float32, lda int, b PackedB, beta float32, c []float32, ldc int) {
	threads := max(1, min(runtime.GOMAXPROCS(0), m*n*k/minParallelWork))
	gemmPacked(transA, m, n, k, alpha, a, lda, b, beta, c, ldc, threads)
}

// GemmPackedSerial is GemmPacked on the calling goroutine only, for callers that share rows out between
// the cores themselves (each core a block of rows against the same packed B).
func GemmPackedSerial(transA bool, m, n, k int, alpha float32, a []float32, lda int, b PackedB, beta float32, c []float32, ldc int) {
	gemmPacked(transA, m, n, k, alpha, a, lda, b, beta, c, ldc, 1)
}

func gemmPacked(transA bool, m, n, k int, alpha float32, a []float32, lda int, b PackedB, beta float32, c []float32, ldc int, threads int) {
	if b.k != k || b.n != n {
		panic(fmt.Sprintf("sgemm: B packed as %d×%d, used as %d×%d", b.k, b.n, k, n))
	}
	gemmOf(transA, false, m, n, k, alpha, a, lda, operandB{packed: b.data}, 0, beta, c, ldc, threads)
}

// operandB is B as float32 values, as halves (half.Bits non-nil) or packed by PackB (packed non-nil).
type operandB struct {
	f32    []float32
	half   Half
	packed []float32
}

func gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
	gemmOf(transA, transB, m, n, k, alpha, a, lda, operandB{f32: b}, ldb, beta, c, ldc, threads)
}

func gemmOf(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b operandB, ldb int, beta float32, c []float32, ldc int, threads int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("sgemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	checkMatrix("C", m, n, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	if transA {
		checkMatrix("A", k, m, a, lda)
	} else {
		checkMatrix("A", m, k, a, lda)
	}
	bRows, bCols := k, n
	if transB {
		bRows, bCols = n, k
	}
	switch {
	case b.half.Bits != nil:
		checkMatrixLen("B", bRows, bCols, len(b.half.Bits), ldb)
	case b.packed == nil:
		checkMatrix("B", bRows, bCols, b.f32, ldb)
	}

	g := problems.Get().(*problem)
	g.kernel, g.threads = kernel, threads
	g.transA, g.transB = transA, transB
	g.m, g.n, g.k = m, n, k
	g.alpha, g.userBeta = alpha, beta
	g.a, g.lda, g.b, g.ldb, g.c, g.ldc = a, lda, b.f32, ldb, c, ldc
	g.bHalf, g.packedB = b.half, b.packed
	g.run()
	// Keep the buffers for the next call, not the caller's matrices.
	g.a, g.b, g.c, g.bHalf, g.packedB = nil, nil, nil, Half{}, nil
	problems.Put(g)
}

// problems recycles problem values, and with them their packing buffers.
var problems = sync.Pool{New: func() any { return new(problem) }}

// problem holds the operands of one Gemm call, its buffers and the block being worked on.
type problem struct {
	kernel   *microKernel
	threads  int
	transA   bool
	transB   bool
	m, n, k  int
	alpha    float32
	userBeta float32
	a        []float32
	lda      int
	b        []float32
	bHalf    Half      // B as halves where bHalf.Bits is non-nil (b is then nil)
	packedB  []float32 // op(B) packed by PackB where non-nil (b is then nil)
	ldb      int
	c        []float32
	ldc      int

	// steps is the plan of the product; splitRows tells whether its sweeps share out rows, not columns.
	steps     []step
	splitRows bool
	// directA and directB tell that the micro-kernel reads full micro-panels of A, and full panels of
	// B, in place (A not transposed; B float32, not transposed, and at most directBRows rows).
	directA, directB bool

	// packedA holds the current slab of op(A) as micro-panels shared by the goroutines; each goroutine
	// packs its blocks of B into its own part of bufB and uses its own scratch tile in edge, and
	// converts a half-precision B through its own part of halfRows.
	packedA  []float32
	bufB     []float32
	edge     []float32
	halfRows []float32
}

// run plans the product as a sequence of steps and runs their tasks, on the calling goroutine alone or
// with helpers (see team).
//
// For each block of up to blockM rows, the rows of A are packed a slab of up to maxPackedA values at a
// time (with directA, only a partial last micro-panel; the pack step is left out where there is none);
// then the slab is swept against the columns of B, which are shared out in chunks (or, when there are
// too few columns to share, the rows are), blockN columns and blockK rows of B at a time, packing that
// block of B (unless it is read in place or was packed by PackB) and running the micro-kernel over it.
func (g *problem) run() {
	mr, nr := g.kernel.mr, g.kernel.nr
	colPanels := ceilDiv(g.n, nr)
	g.splitRows = g.threads > 1 && colPanels < 2*g.threads && colPanels < ceilDiv(min(g.m, blockM), mr)
	g.directA, g.directB = !g.transA, !g.transB && g.m <= directBRows && g.b != nil
	g.steps = g.steps[:0]
	// A sweep task over columns takes at most blockN of them (the panel of B packed at a time), and at
	// least minSweepPanels micro-panels where there are enough to go round.
	colTasks := 1
	if g.threads > 1 && !g.splitRows {
		colTasks = max(ceilDiv(colPanels, blockN/nr), min(sweepTasks*g.threads, colPanels/minSweepPanels))
	}
	colsPerTask := min(blockN/nr, ceilDiv(colPanels, colTasks))
	tasks, packedA := 0, 0
	add := func(st step) {
		st.tasks = max(1, min(st.tasks, st.panels))
		st.first = tasks
		tasks += st.tasks
		g.steps = append(g.steps, st)
	}
	for i0 := 0; i0 < g.m; i0 += blockM {
		rows := min(blockM, g.m-i0)
		rowPanels := ceilDiv(rows, mr)
		slab := max(1, maxPackedA/(rowPanels*mr*blockK)) * blockK
		for k0 := 0; k0 < g.k; k0 += slab {
			k1 := min(k0+slab, g.k)
			block := step{i0: i0, rows: rows, k0: k0, k1: k1}
			if !g.directA || rows%mr != 0 {
				packedA = max(packedA, rowPanels*mr*(k1-k0))
				pack := block
				pack.panels = rowPanels * ceilDiv(k1-k0, blockK)
				pack.tasks = packTasks * g.threads
				add(pack)
			}
			sweep := block
			sweep.sweep = true
			if g.splitRows {
				sweep.panels, sweep.tasks = rowPanels, sweepTasks*g.threads
			} else {
				sweep.panels, sweep.tasks = colPanels, colTasks
			}
			add(sweep)
		}
	}
	g.packedA = grow(g.packedA, packedA)
	g.bufB = grow(g.bufB, g.threads*min(g.k, blockK)*colsPerTask*nr)
	g.edge = grow(g.edge, g.threads*mr*nr)
	if g.bHalf.Bits != nil {
		g.halfRows = grow(g.halfRows, g.threads*nr*min(g.k, blockK))
	}
	if g.threads == 1 {
		for i := range g.steps {
			for t := range g.steps[i].tasks {
				g.runTask(0, &g.steps[i], t)
			}
		}
		return
	}
	t := &team{g: g, tasks: int64(tasks)}
	parallel.For(g.threads, t.work) // returns when every task is done: each work call runs its own to the end
}

// Tasks per goroutine that each step aims for, so that a goroutine which starts late or is slowed down
// leaves its share to the others; sweep tasks over columns take at least minSweepPanels micro-panels,
// so that each micro-panel of A serves a few of them once it is in L1.
const (
	packTasks      = 4
	sweepTasks     = 3
	minSweepPanels = 4
)

// step is a set of independent tasks: packing panels of A, or sweeping packed A against B.
type step struct {
	sweep            bool
	i0, rows, k0, k1 int // the block of op(A): rows from i0, columns [k0, k1)
	panels           int // micro-panels to pack, or (row or column) micro-panels to sweep
	tasks            int // number of tasks, which share the panels out near-equally
	first            int // index of the first task among those of all steps
}

// runTask runs task t of st on the given worker.
func (g *problem) runTask(worker int, st *step, t int) {
	lo := st.panels * t / st.tasks
	hi := st.panels * (t + 1) / st.tasks
	rowPanels := ceilDiv(st.rows, g.kernel.mr)
	switch {
	case !st.sweep:
		g.packA(st.i0, st.rows, st.k0, st.k1, lo, hi)
	case g.splitRows:
		g.sweep(worker, st.i0, st.rows, st.k0, st.k1, lo, hi, 0, ceilDiv(g.n, g.kernel.nr))
	default:
		g.sweep(worker, st.i0, st.rows, st.k0, st.k1, 0, rowPanels, lo, hi)
	}
}

// team runs the tasks of a product on several goroutines (parallel.For, one work call per worker).
// Tasks are claimed in order from a shared counter, and a task waits until every task of the earlier
// steps is done. A worker that starts late finds its share already taken rather than holding the
// others up.
type team struct {
	g       *problem
	tasks   int64
	claimed atomic.Int64
	done    atomic.Int64
}

// work claims and runs tasks until none are left.
func (t *team) work(worker int) {
	cursor := 0
	for {
		x := int(t.claimed.Add(1) - 1)
		if x >= int(t.tasks) {
			return
		}
		g := t.g
		for x >= g.steps[cursor].first+g.steps[cursor].tasks {
			cursor++
		}
		st := &g.steps[cursor]
		t.waitDone(int64(st.first))
		g.runTask(worker, st, x-st.first)
		t.done.Add(1)
	}
}

// waitDone returns when n tasks are done. It yields to other goroutines while it waits, which is
// prompt, and after spinLimit tries sleeps between checks, so as not to hold a CPU that a descheduled
// worker needs.
func (t *team) waitDone(n int64) {
	for try := 0; t.done.Load() < n; try++ {
		if try < spinLimit {
			runtime.Gosched()
		} else {
			time.Sleep(spinSleep)
		}
	}
}

// Waiting in waitDone: spinLimit yields (some hundreds of microseconds), then spinSleep at a time.
const (
	spinLimit = 2000
	spinSleep = 20 * time.Microsecond
)

// packA packs micro-panels [lo, hi) of the block of A at row i0 and columns [k0, k1) of op(A). Panels
// are numbered blockK-wide slice by slice; each slice is stored as consecutive row panels, and starts at
// packedA[roundUp(rows, mr)*(p0-k0)] for its first column p0. With directA only the last, partial, row
// panel of each slice is packed: the others are read in place.
func (g *problem) packA(i0, rows, k0, k1, lo, hi int) {
	mr := g.kernel.mr
	rowPanels := ceilDiv(rows, mr)
	for x := lo; x < hi; x++ {
		p0 := k0 + x/rowPanels*blockK
		kb := min(blockK, k1-p0)
		i := x % rowPanels * mr
		if g.directA && rows-i >= mr {
			continue
		}
		dst := g.packedA[rowPanels*mr*(p0-k0)+i*kb:][:mr*kb]
		packA(dst, g.transA, g.a, g.lda, i0+i, min(mr, rows-i), p0, kb, mr, g.kernel.transpose)
	}
}

// sweep multiplies row panels [rlo, rhi) of the packed block of A (columns [k0, k1) of op(A)) by column
// panels [clo, chi) of op(B), blockN columns and blockK rows at a time, adding the product to C from
// row i0 on.
func (g *problem) sweep(worker, i0, rows, k0, k1, rlo, rhi, clo, chi int) {
	mk := g.kernel
	mr, nr := mk.mr, mk.nr
	panelsPerBlock := blockN / nr
	bufB := g.bufB[worker*len(g.bufB)/g.threads : (worker+1)*len(g.bufB)/g.threads]
	tile := g.edge[worker*mr*nr : (worker+1)*mr*nr]
	padded := ceilDiv(rows, mr) * mr
	for q0 := clo; q0 < chi; q0 += panelsPerBlock {
		q1 := min(q0+panelsPerBlock, chi)
		for p0 := k0; p0 < k1; p0 += blockK {
			kb := min(blockK, k1-p0)
			beta := g.userBeta
			if p0 > 0 {
				beta = 1
			}
			cols := min(q1*nr, g.n) - q0*nr
			switch {
			case g.packedB != nil:
			case g.bHalf.Bits != nil:
				rowsBuf := g.halfRows[worker*len(g.halfRows)/g.threads : (worker+1)*len(g.halfRows)/g.threads]
				packBHalf(bufB, g.transB, g.bHalf, g.ldb, p0, kb, q0*nr, cols, nr, mk.transpose, rowsBuf)
			case !g.directB:
				packB(bufB, g.transB, g.b, g.ldb, p0, kb, q0*nr, cols, nr, mk.transpose)
			default:
				if last := g.n / nr; g.n%nr != 0 && last < q1 {
					// Only the partial last panel is packed, in its place in bufB.
					packB(bufB[(last-q0)*nr*kb:], false, g.b, g.ldb, p0, kb, last*nr, g.n-last*nr, nr, mk.transpose)
				}
			}
			slice := padded * (p0 - k0) // where the packed slice of A starts
			for r := rlo; r < rhi; r++ {
				i := r * mr
				mv := min(mr, rows-i)
				var pa []float32
				lda := kb
				if g.directA && mv == mr {
					pa, lda = g.a[(i0+i)*g.lda+p0:], g.lda
				} else {
					pa = g.packedA[slice+i*kb : slice+(i+mr)*kb]
				}
				for q := q0; q < q1; q++ {
					j := q * nr
					nv := min(nr, g.n-j)
					var pb []float32
					ldb := nr
					switch {
					case g.packedB != nil:
						pb = g.packedB[p0*ceilDiv(g.n, nr)*nr+q*nr*kb:][:nr*kb]
					case g.directB && nv == nr:
						pb, ldb = g.b[p0*g.ldb+j:], g.ldb
					default:
						pb = bufB[(q-q0)*nr*kb : (q-q0+1)*nr*kb]
					}
					off := (i0+i)*g.ldc + j
					if mv == mr && nv == nr {
						mk.fn(kb, pa, lda, pb, ldb, g.c[off:], g.ldc, g.alpha, beta)
						continue
					}
					mk.fn(kb, pa, lda, pb, ldb, tile, nr, g.alpha, 0)
					mergeTile(tile, nr, mv, nv, beta, g.c[off:], g.ldc)
				}
			}
		}
	}
}

// mergeTile writes the valid mv×nv corner of an alpha-scaled product tile into C: C = tile + beta*C.
func mergeTile(tile []float32, ldt, mv, nv int, beta float32, c []float32, ldc int) {
	for i := range mv {
		t := tile[i*ldt : i*ldt+nv]
		row := c[i*ldc : i*ldc+nv]
		if beta == 0 {
			copy(row, t)
			continue
		}
		for j, v := range t {
			row[j] = v + float32(beta*row[j])
		}
	}
}

// scale sets C = beta*C without reading C when beta is zero.
func scale(m, n int, beta float32, c []float32, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// checkMatrix panics if x cannot hold a rows×cols row-major view with leading dimension ld.
func checkMatrix(name string, rows, cols int, x []float32, ld int) {
	checkMatrixLen(name, rows, cols, len(x), ld)
}

// checkMatrixLen panics if a slice of n elements cannot hold a rows×cols
// row-major view with leading dimension ld.
func checkMatrixLen(name string, rows, cols, n, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("sgemm: leading dimension of %s is %d, less than its %d columns", name, ld, cols))
	}
	if rows > 0 && cols > 0 && n < (rows-1)*ld+cols {
		panic(fmt.Sprintf("sgemm: %s has %d elements, too few for %d×%d with leading dimension %d", name, n, rows, cols, ld))
	}
}

// grow returns buf resliced to size elements, reallocated if its capacity is smaller.
func grow(buf []float32, size int) []float32 {
	if cap(buf) < size {
		return make([]float32, size)
	}
	return buf[:size]
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
