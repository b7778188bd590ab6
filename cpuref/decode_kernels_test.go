package cpuref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clattn/clattn/backend"
)

// TestFourRowKernels checks the decode kernels against float64 sums on float32
// and float16 K/V views with row gaps (NaN-filled), key counts around the
// kernels' steps of two, four and eight keys, and head dims of one and several
// column blocks (up to past the eight-key kernel's largest); the padding of s
// and o must stay.
func TestFourRowKernels(t *testing.T) {
	checkFourRowKernels(t)
	checkScoresGrouping(t)
}

func checkFourRowKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	nan := float32(math.NaN())
	for _, half := range []bool{false, true} {
		for _, dim := range []int{16, 48, 64, 96, 128, 160, 288} {
			for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 15, 17, 256} {
				t.Run(fmt.Sprintf("half=%v/dim=%d/n=%d", half, dim, n), func(t *testing.T) {
					ss := dim + 5 // a gap between key rows
					vals := make([]float32, n*ss)
					for i := range vals {
						vals[i] = nan
						if i%ss < dim {
							vals[i] = backend.RoundTo(backend.Float16, 2*rng.Float32()-1)
						}
					}
					kv := heads{data: vals, batch: 1, heads: 1, seq: n, dim: dim, bs: n * ss, hs: n * ss, ss: ss}
					if half {
						kv.bits = make([]uint16, len(vals))
						for i, x := range vals {
							kv.bits[i] = backend.Float16Bits(x)
						}
						kv.data = nil
					}
					q := make([]float32, 4*dim)
					for i := range q {
						q[i] = 2*rng.Float32() - 1
					}
					const scale = 0.37
					lds := n + 3
					s := make([]float32, 4*lds)
					for i := range s {
						s[i] = nan
					}
					kv.scores4(q, 0, 0, 0, n, s, lds, scale, kv.aheadOf(kv, 0, 0, 0))
					ldo := dim + 2
					o := make([]float32, 4*ldo)
					for i := range o {
						o[i] = float32(i % 3)
						if i%ldo >= dim {
							o[i] = nan
						}
					}
					o0 := append([]float32(nil), o...)
					p := make([]float32, 4*lds)
					for i := range p {
						p[i] = rng.Float32()
					}
					kv.values4(p, lds, 0, 0, 0, n, o, ldo, kv.aheadOf(kv, 0, 0, 0))
					for r := range 4 {
						for j := range lds {
							got := s[r*lds+j]
							if j >= n {
								if got == got {
									t.Fatalf("s[%d][%d] (padding) = %v", r, j, got)
								}
								continue
							}
							var want, mag float64
							for d := range dim {
								x := float64(q[r*dim+d]) * float64(vals[j*ss+d])
								want += x
								mag += math.Abs(x)
							}
							want *= scale
							if math.Abs(float64(got)-want) > 1e-6*mag+1e-30 {
								t.Fatalf("s[%d][%d] = %v, want %v", r, j, got, want)
							}
						}
						for d := range ldo {
							got := o[r*ldo+d]
							if d >= dim {
								if got == got {
									t.Fatalf("o[%d][%d] (padding) = %v", r, d, got)
								}
								continue
							}
							want, mag := float64(o0[r*ldo+d]), math.Abs(float64(o0[r*ldo+d]))
							for j := range n {
								x := float64(p[r*lds+j]) * float64(vals[j*ss+d])
								want += x
								mag += math.Abs(x)
							}
							if math.Abs(float64(got)-want) > 1e-6*mag+1e-30 {
								t.Fatalf("o[%d][%d] = %v, want %v", r, d, got, want)
							}
						}
					}
				})
			}
		}
	}
}

// checkScoresGrouping checks that a key's float16 scores have the same bits
// whichever keys share its call: all 21 keys at once, each alone, and a run
// from the middle (the kernels' full steps and last keys alike).
func checkScoresGrouping(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, dim := range []int{16, 64, 128} {
		const n = 21
		k := make([]uint16, n*dim)
		for i := range k {
			k[i] = backend.Float16Bits(2*rng.Float32() - 1)
		}
		q := make([]float32, 4*dim)
		for i := range q {
			q[i] = 2*rng.Float32() - 1
		}
		all := make([]float32, 4*n)
		scores4F16(q, dim, k, dim, n, all, n, 0.3, nil)
		check := func(j0, m int) {
			part := make([]float32, 4*m)
			scores4F16(q, dim, k[j0*dim:], dim, m, part, m, 0.3, nil)
			for r := range 4 {
				for j := range m {
					if got, want := part[r*m+j], all[r*n+j0+j]; math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("dim %d: row %d key %d scored with keys [%d, %d): %v, with all %d: %v", dim, r, j0+j, j0, j0+m, got, n, want)
					}
				}
			}
		}
		for j := range n {
			check(j, 1)
		}
		check(5, 13)
	}
}

// BenchmarkFourRowKernels measures the decode kernels on float16 tiles of 256
// keys of head dim 128, from cache (one tile over and over) and from memory
// (64 MiB of tiles), beside a plain streaming read of the same size.
func BenchmarkFourRowKernels(b *testing.B) {
	const dim, tile = 128, 256
	for _, keys := range []int{tile, 1 << 18} {
		where := "cache"
		if keys > tile {
			where = "memory"
		}
		kv := make([]uint16, keys*dim)
		for i := range kv {
			kv[i] = 0x3c00
		}
		q, s, o := make([]float32, 4*dim), make([]float32, 4*tile), make([]float32, 4*dim)
		b.Run("scores/"+where, func(b *testing.B) {
			b.SetBytes(int64(2 * len(kv)))
			for b.Loop() {
				for j0 := 0; j0 < keys; j0 += tile {
					scores4F16(q, dim, kv[j0*dim:], dim, tile, s, tile, 1, nil)
				}
			}
		})
		b.Run("values/"+where, func(b *testing.B) {
			b.SetBytes(int64(2 * len(kv)))
			for b.Loop() {
				for j0 := 0; j0 < keys; j0 += tile {
					values4F16(s, tile, tile, kv[j0*dim:], dim, dim, o, dim, nil)
				}
			}
		})
	}
	words := make([]uint64, 1<<23)
	b.Run("sum/memory", func(b *testing.B) {
		b.SetBytes(int64(8 * len(words)))
		for b.Loop() {
			sumWords(words)
		}
	})
}
