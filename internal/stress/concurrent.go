package stress

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/clattn/clattn/backend"
)

// Mixed makes perOp random cases of every op in Ops from a fixed seed,
// interleaved (gemm, attention, ..., gemm, attention, ...).
func Mixed(seed uint64, perOp int) []Case {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	cases := make([]Case, perOp*len(Ops))
	for i := range cases {
		cases[i] = Nth(rng, i)
	}
	return cases
}

// Concurrent runs cases on b serially, then from goroutines goroutines at once
// (each runs every case, starting at a different one, so different ops overlap),
// and fails t for any error or any output that is not bitwise equal to the
// serial run's: sharing a device between goroutines must not change a result.
func Concurrent(t testing.TB, b backend.Backend, cases []Case, goroutines int) {
	t.Helper()
	serial := make([][]float32, len(cases))
	for i, c := range cases {
		out, err := c.Run(b)
		if err != nil {
			t.Fatalf("serial run: %v", err)
		}
		serial[i] = out
	}
	errs := make(chan error, goroutines*len(cases))
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for n := range cases {
				i := (g + n) % len(cases)
				out, err := cases[i].Run(b)
				if err == nil {
					err = bitwiseEqual(out, serial[i])
				}
				if err != nil {
					errs <- fmt.Errorf("goroutine %d, case %d (%s %s): %w", g, i, cases[i].Op, cases[i].Desc, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 10 {
			t.Error(err)
		}
	}
	if n > 10 {
		t.Errorf("... %d errors in all", n)
	}
}

// bitwiseEqual reports the first element whose bits differ.
func bitwiseEqual(got, want []float32) error {
	if len(got) != len(want) {
		return fmt.Errorf("length %d, serial run %d", len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			return fmt.Errorf("element %d is %g (bits %#x), serial run %g (bits %#x)",
				i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
	return nil
}
