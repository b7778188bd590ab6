package gpu

import (
	"fmt"
	"math/rand/v2"
)

// Smoke runs the vec_add kernel of smoke.cl on n random floats and checks the
// result against Go: the quickest proof that the device builds programs,
// launches kernels and moves data correctly.
func (d *Device) Smoke(n int) error {
	const op = "Smoke"
	if n < 0 {
		return fmt.Errorf("%s: n = %d < 0", op, n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := make([]float32, n), make([]float32, n)
	for i := range a {
		a[i], b[i] = rng.Float32()*2-1, rng.Float32()*2-1
	}
	ta, err := d.Upload(a, n)
	if err != nil {
		return err
	}
	defer ta.Release()
	tb, err := d.Upload(b, n)
	if err != nil {
		return err
	}
	defer tb.Release()
	tc, err := d.Alloc(n)
	if err != nil {
		return err
	}
	defer tc.Release()

	if err := d.enter(op); err != nil {
		return err
	}
	const group = 64
	err = d.launch(launch{op: op, file: "smoke.cl", kernel: "vec_add",
		global: []int{roundUp(n, group)}, local: []int{group}, args: []any{ta, tb, tc, n}})
	d.life.RUnlock()
	if err != nil {
		return err
	}
	got := make([]float32, n)
	if err := d.Download(got, tc); err != nil {
		return err
	}
	for i := range got {
		if want := a[i] + b[i]; got[i] != want {
			return fmt.Errorf("gpu: %s: %s: element %d is %g, want %g", d.name, op, i, got[i], want)
		}
	}
	return nil
}
