package sgemm

import (
	"fmt"

	"github.com/clattn/clattn/backend"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// canary is the NaN stored in padding and in C when beta is zero; its bit pattern must survive.
var canary = math.Float32frombits(0x7fc0beef)

// matrix is a rows×cols row-major view with leading dimension ld, its padding filled with canary.
type matrix struct {
	rows, cols, ld int
	data           []float32
}

func newMatrix(rnd *rand.Rand, rows, cols, pad int) matrix {
	ld := max(1, cols+pad)
	data := make([]float32, max(0, rows*ld-pad))
	for i := range data {
		data[i] = canary
	}
	for i := range rows {
		for j := range cols {
			data[i*ld+j] = float32(rnd.NormFloat64())
		}
	}
	return matrix{rows, cols, ld, data}
}

// at returns op(x)[i, j].
func (x matrix) at(trans bool, i, j int) float32 {
	if trans {
		return x.data[j*x.ld+i]
	}
	return x.data[i*x.ld+j]
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int
	// halfB stores B as binary16 (1) or bfloat16 (2) bits; 0 keeps it float32.
	halfB int
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%t/tB=%t/m=%d/n=%d/k=%d/alpha=%g/beta=%g/pad=%d/halfB=%d", tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.pad, tc.halfB)
}

// checkGemm runs one case with the given thread count and compares it with a float64 oracle.
func checkGemm(t *testing.T, rnd *rand.Rand, tc gemmCase, threads int) {
	t.Helper()
	var a, b matrix
	if tc.transA {
		a = newMatrix(rnd, tc.k, tc.m, tc.pad)
	} else {
		a = newMatrix(rnd, tc.m, tc.k, tc.pad)
	}
	if tc.transB {
		b = newMatrix(rnd, tc.n, tc.k, tc.pad+1)
	} else {
		b = newMatrix(rnd, tc.k, tc.n, tc.pad+1)
	}
	c := newMatrix(rnd, tc.m, tc.n, tc.pad+2)
	if tc.beta == 0 {
		for i := range c.data {
			c.data[i] = canary
		}
	}
	c0 := append([]float32(nil), c.data...)

	if tc.halfB == 0 {
		gemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a.data, a.ld, b.data, b.ld, tc.beta, c.data, c.ld, threads)
	} else {
		// The oracle reads b.data: make it exactly the stored halves.
		h := Half{Bits: make([]uint16, len(b.data)), BFloat16: tc.halfB == 2}
		for i, x := range b.data {
			if h.BFloat16 {
				h.Bits[i] = backend.BFloat16Bits(x)
				b.data[i] = backend.BFloat16Value(h.Bits[i])
			} else {
				h.Bits[i] = backend.Float16Bits(x)
				b.data[i] = backend.Float16Value(h.Bits[i])
			}
		}
		gemmOf(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a.data, a.ld, operandB{half: h}, b.ld, tc.beta, c.data, c.ld, threads)
	}

	const eps = 1.0 / (1 << 24)
	bad := 0
	for idx, got := range c.data {
		i, j := idx/c.ld, idx%c.ld
		if j >= tc.n {
			if math.Float32bits(got) != math.Float32bits(c0[idx]) {
				t.Fatalf("%v: padding of C at (%d, %d) changed to %v", tc, i, j, got)
			}
			continue
		}
		var sum, sumAbs float64
		for p := range tc.k {
			prod := float64(a.at(tc.transA, i, p)) * float64(b.at(tc.transB, p, j))
			sum += prod
			sumAbs += math.Abs(prod)
		}
		want := float64(tc.alpha) * sum
		bound := float64(tc.k+2) * eps * math.Abs(float64(tc.alpha)) * sumAbs
		if tc.beta != 0 {
			want += float64(tc.beta) * float64(c0[idx])
			bound += 2 * eps * math.Abs(float64(tc.beta)*float64(c0[idx]))
		}
		bound = 2*bound + 1e-30
		if diff := math.Abs(float64(got) - want); !(diff <= bound) {
			if bad++; bad <= 5 {
				t.Errorf("%v threads=%d: C[%d,%d] = %v, want %v (|diff| %.3g > bound %.3g)", tc, threads, i, j, got, want, diff, bound)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%v threads=%d: %d elements out of tolerance", tc, threads, bad)
	}
}

var testSizes = []int{0, 1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 100, 127, 129, 257}

var scalings = [][2]float32{{1, 0}, {1, 1}, {-0.75, 0}, {1.5, -0.5}, {0.5, 1}}

// testCases returns the cases every kernel is checked on: square sizes with every transpose combination,
// then mixed shapes drawn from testSizes with a fixed seed.
func testCases(short bool) []gemmCase {
	rnd := rand.New(rand.NewPCG(1, 2))
	var cases []gemmCase
	for si, s := range testSizes {
		if short && s > 129 {
			continue
		}
		for tr := range 4 {
			sc := scalings[(si+tr)%len(scalings)]
			cases = append(cases, gemmCase{tr&1 != 0, tr&2 != 0, s, s, s, sc[0], sc[1], (si + tr) % 3, 0})
		}
	}
	mixed := 120
	if short {
		mixed = 40
	}
	for i := range mixed {
		pick := func() int { return testSizes[rnd.IntN(len(testSizes))] }
		sc := scalings[i%len(scalings)]
		cases = append(cases, gemmCase{i&1 != 0, i&2 != 0, pick(), pick(), pick(), sc[0], sc[1], i % 4, 0})
	}
	// Shapes that cross the cache blocks, and tall, narrow ones whose rows are shared out.
	for tr := range 4 {
		cases = append(cases,
			gemmCase{tr&1 != 0, tr&2 != 0, 37, blockN + 29, 2*blockK + 3, 1, 0.5, 1, 0},
			gemmCase{tr&1 != 0, tr&2 != 0, blockM + 37, 9, 2*blockK + 88, -1, 0, 2, 0},
			gemmCase{tr&1 != 0, tr&2 != 0, 301, 40, 70, 1, 1, 0, 0},
		)
	}
	return cases
}

// useKernel makes mk the package's micro-kernel until restore is called.
func useKernel(mk *microKernel) (restore func()) {
	saved := kernel
	kernel = mk
	return func() { kernel = saved }
}

func TestGemm(t *testing.T) {
	for _, mk := range testKernels() {
		t.Run(mk.name, func(t *testing.T) {
			defer useKernel(mk)()
			rnd := rand.New(rand.NewPCG(3, 4))
			for i, tc := range testCases(testing.Short()) {
				// One, two and five goroutines, so that both ways of sharing the work out
				// are exercised on small shapes.
				threads := 1 + (i%3)*(i%3)
				checkGemm(t, rnd, tc, threads)
			}
		})
	}
}

// TestGemmHalfB runs a third of the cases with B stored as binary16 and as
// bfloat16, converted panel by panel as it is packed, on every kernel.
func TestGemmHalfB(t *testing.T) {
	for _, mk := range testKernels() {
		t.Run(mk.name, func(t *testing.T) {
			defer useKernel(mk)()
			rnd := rand.New(rand.NewPCG(7, 8))
			for i, tc := range testCases(true) {
				if i%3 != 0 {
					continue
				}
				tc.halfB = 1 + i%2
				checkGemm(t, rnd, tc, 1+i%2)
			}
		})
	}
}

// TestGemmPublic checks Gemm (on a product large enough to go parallel) and GemmSerial against the
// portable kernel.
func TestGemmPublic(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	for _, serial := range []bool{false, true} {
		m, n, k := 200, 170, 130
		a := newMatrix(rnd, m, k, 0)
		b := newMatrix(rnd, n, k, 0)
		c := make([]float32, m*n)
		want := make([]float32, m*n)
		if serial {
			GemmSerial(false, true, m, n, k, 1, a.data, k, b.data, k, 0, c, n)
		} else {
			Gemm(false, true, m, n, k, 1, a.data, k, b.data, k, 0, c, n)
		}
		restore := useKernel(portableKernel)
		gemm(false, true, m, n, k, 1, a.data, k, b.data, k, 0, want, n, 1)
		restore()
		for i := range c {
			if d := math.Abs(float64(c[i] - want[i])); d > 1e-4 {
				t.Fatalf("serial=%t: C[%d] = %v, portable kernel gives %v", serial, i, c[i], want[i])
			}
		}
	}
}

func TestGemmZeroK(t *testing.T) {
	c := []float32{1, 2, canary, 3, 4}
	Gemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 2, c, 3)
	want := []float32{2, 4, canary, 6, 8}
	for i := range c {
		if math.Float32bits(c[i]) != math.Float32bits(want[i]) {
			t.Fatalf("k=0, beta=2: C = %v, want %v", c, want)
		}
	}
	c = []float32{canary, canary, 7, canary, canary}
	Gemm(true, true, 2, 2, 0, 1, nil, 2, nil, 1, 0, c, 3)
	want = []float32{0, 0, 7, 0, 0}
	for i := range c {
		if math.Float32bits(c[i]) != math.Float32bits(want[i]) {
			t.Fatalf("k=0, beta=0: C = %v, want %v", c, want)
		}
	}
}

func TestGemmAlphaZero(t *testing.T) {
	a := []float32{canary, canary}
	c := []float32{canary, canary}
	Gemm(false, false, 1, 2, 1, 0, a, 1, a, 2, 0, c, 2)
	if c[0] != 0 || c[1] != 0 {
		t.Fatalf("alpha=0, beta=0: C = %v, want zeros", c)
	}
}

// TestGemmEmpty: with m or n zero nothing is read or written (C's canaries
// beyond the empty view keep their bits); with k zero C becomes beta*C, and
// with beta 0 zeros even over NaN.
func TestGemmEmpty(t *testing.T) {
	c := []float32{canary, canary, canary}
	Gemm(false, false, 0, 3, 5, 1, nil, 5, make([]float32, 15), 3, 0, c[:0], 3)
	Gemm(false, false, 3, 0, 5, 1, make([]float32, 15), 5, nil, 1, 0, c[:0], 1)
	for i, v := range c {
		if math.Float32bits(v) != math.Float32bits(canary) {
			t.Fatalf("an empty product wrote C[%d] = %g", i, v)
		}
	}
	c = []float32{2, 4, 6, 8}
	Gemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0.5, c, 2)
	if want := []float32{1, 2, 3, 4}; !slices.Equal(c, want) {
		t.Fatalf("k = 0, beta 0.5: C = %v, want %v", c, want)
	}
	c = []float32{canary, canary, canary, canary}
	Gemm(true, true, 2, 2, 0, 1, nil, 2, nil, 1, 0, c, 2)
	if want := []float32{0, 0, 0, 0}; !slices.Equal(c, want) {
		t.Fatalf("k = 0, beta 0: C = %v, want zeros", c)
	}
}

func TestGemmPanicsOnShortSlice(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a too-short A")
		}
	}()
	Gemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
}

// testKernels returns every micro-kernel this CPU can run, the portable one included.
func testKernels() []*microKernel {
	ks := supportedKernels()
	if ks[len(ks)-1] != portableKernel {
		ks = append(ks, portableKernel)
	}
	return ks
}

// TestGemmConcurrent runs products from several goroutines at once, as attention heads do, each checked
// against the same product computed alone on one goroutine: the results must be identical.
func TestGemmConcurrent(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 10))
	const m, n, k = 200, 170, 130 // over 2·minParallelWork, so that Gemm goes parallel
	a := newMatrix(rnd, m, k, 0)
	b := newMatrix(rnd, n, k, 0)
	want := make([]float32, m*n)
	GemmSerial(false, true, m, n, k, 1, a.data, k, b.data, k, 0, want, n)
	const workers = 8
	got := make([][]float32, workers)
	var wg sync.WaitGroup
	for w := range workers {
		got[w] = make([]float32, m*n)
		wg.Go(func() {
			for range 3 {
				if w%2 == 0 {
					GemmSerial(false, true, m, n, k, 1, a.data, k, b.data, k, 0, got[w], n)
				} else {
					Gemm(false, true, m, n, k, 1, a.data, k, b.data, k, 0, got[w], n)
				}
			}
		})
	}
	wg.Wait()
	for w := range workers {
		for i := range want {
			if got[w][i] != want[i] {
				t.Fatalf("goroutine %d: C[%d] = %v, want %v", w, i, got[w][i], want[i])
			}
		}
	}
}

// TestGemmInPlaceFreshProblem runs products whose A and B are read in place
// (not transposed; every micro-panel full: m = 24 and n = 64 are multiples of
// each kernel's mr and nr) on a problem without buffers from earlier calls, so
// that nothing may lean on a packed operand that was never needed; then with a
// partial last panel of A (m = 29) and of B (n = 70), with B transposed, and
// with more rows than directBRows (B packed, A in place).
func TestGemmInPlaceFreshProblem(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 8))
	for _, m := range []int{24, 29, directBRows + 3} {
		for _, n := range []int{64, 70} {
			for _, transB := range []bool{false, true} {
				for _, threads := range []int{1, 2} {
					// Drop pooled problems until a new one comes, and leave it for gemm.
					for {
						g := problems.Get().(*problem)
						if g.packedA == nil && g.bufB == nil {
							problems.Put(g)
							break
						}
					}
					checkGemm(t, rnd, gemmCase{transB: transB, m: m, n: n, k: 300, alpha: 1, pad: 1}, threads)
				}
			}
		}
	}
}

// TestGemmPacked checks that a product with B packed once by PackB gives bit
// for bit what Gemm gives, for B transposed or not, k over several blocks and
// n with a partial last panel, B small and large enough to be packed by every
// core, and that one packed B serves several products
// (chunks of rows, as cpuref's FeedForward runs them), on every core
// (GemmPacked) or on one (GemmPackedSerial).
func TestGemmPacked(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []gemmCase{
		{transB: true, m: 70, n: 100, k: 600, alpha: 1, pad: 1},
		{m: 33, n: 64, k: 257, alpha: -0.5, beta: 1, pad: 2},
		{transA: true, transB: true, m: 300, n: 31, k: 40, alpha: 1, beta: 0.5},
		{transB: true, m: 1, n: 1, k: 1, alpha: 1},
		// Packed by every core: runs of panels of each block of rows.
		{transB: true, m: 40, n: 700, k: 300, alpha: 1, pad: 3},
		{m: 20, n: 333, k: 520, alpha: 0.5, beta: 1},
	} {
		var a, b matrix
		if tc.transA {
			a = newMatrix(rnd, tc.k, tc.m, tc.pad)
		} else {
			a = newMatrix(rnd, tc.m, tc.k, tc.pad)
		}
		if tc.transB {
			b = newMatrix(rnd, tc.n, tc.k, tc.pad)
		} else {
			b = newMatrix(rnd, tc.k, tc.n, tc.pad)
		}
		c := newMatrix(rnd, tc.m, tc.n, tc.pad)
		want := append([]float32(nil), c.data...)
		Gemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a.data, a.ld, b.data, b.ld, tc.beta, want, c.ld)
		buf := make([]float32, PackedBSize(tc.k, tc.n))
		for i := range buf {
			buf[i] = canary
		}
		bBefore := append([]float32(nil), b.data...)
		pb := PackB(buf, tc.transB, tc.k, tc.n, b.data, b.ld)
		got := append([]float32(nil), c.data...)
		// Rows in two chunks (A transposed: in one), the second on one core.
		split := tc.m / 2
		if tc.transA {
			split = tc.m
		}
		GemmPacked(tc.transA, split, tc.n, tc.k, tc.alpha, a.data, a.ld, pb, tc.beta, got, c.ld)
		if split < tc.m {
			GemmPackedSerial(tc.transA, tc.m-split, tc.n, tc.k, tc.alpha, a.data[split*a.ld:], a.ld, pb, tc.beta, got[split*c.ld:], c.ld)
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%v: C[%d] = %v with B packed once, %v with Gemm", tc, i, got[i], want[i])
			}
		}
		if !slices.EqualFunc(b.data, bBefore, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) }) {
			t.Fatalf("%v: PackB changed B", tc)
		}
	}
}
