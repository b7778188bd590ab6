package gpu_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/clattn/clattn/internal/tolerance"
)

func randomSlice(rng *rand.Rand, n int, mean, spread float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(mean + spread*rng.NormFloat64())
	}
	return s
}

func upload(t *testing.T, d *gpu.Device, data []float32, shape ...int) backend.Tensor {
	t.Helper()
	x, err := d.Upload(data, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func download(t *testing.T, d *gpu.Device, x backend.Tensor) []float32 {
	t.Helper()
	got := make([]float32, x.Shape().Numel())
	if err := d.Download(got, x); err != nil {
		t.Fatal(err)
	}
	return got
}

// layerNormRef is LayerNorm in float64 (two-pass) and, naively, in float32.
func layerNormRef(x, res, gamma, beta []float32, cols int, eps float32) ([]float64, []float32) {
	ref := make([]float64, len(x))
	naive := make([]float32, len(x))
	for r := 0; r*cols < len(x); r++ {
		y64 := make([]float64, cols)
		y32 := make([]float32, cols)
		var sum64 float64
		var sum32 float32
		for j := range cols {
			y32[j] = x[r*cols+j]
			if res != nil {
				y32[j] += res[r*cols+j]
			}
			y64[j] = float64(y32[j])
			sum64 += y64[j]
			sum32 += y32[j]
		}
		mean64, mean32 := sum64/float64(cols), sum32/float32(cols)
		var sq64 float64
		var sq32 float32
		for j := range cols {
			sq64 += (y64[j] - mean64) * (y64[j] - mean64)
			sq32 += (y32[j] - mean32) * (y32[j] - mean32)
		}
		rstd64 := 1 / math.Sqrt(sq64/float64(cols)+float64(eps))
		rstd32 := float32(1 / math.Sqrt(float64(sq32/float32(cols)+eps)))
		for j := range cols {
			v64, v32 := (y64[j]-mean64)*rstd64, (y32[j]-mean32)*rstd32
			if gamma != nil {
				v64 *= float64(gamma[j])
				v32 *= gamma[j]
			}
			if beta != nil {
				v64 += float64(beta[j])
				v32 += beta[j]
			}
			ref[r*cols+j], naive[r*cols+j] = v64, v32
		}
	}
	return ref, naive
}

func TestLayerNorm(t *testing.T) {
	d := gputest.Device(t)
	rng := rand.New(rand.NewPCG(7, 11))
	for _, c := range []struct {
		shape                 []int
		residual, gamma, beta bool
		eps                   float32
		inPlace               bool
	}{
		{shape: []int{3, 5, 7}},
		{shape: []int{4, 1000}, residual: true, gamma: true, beta: true},
		{shape: []int{2, 1}, gamma: true, beta: true},
		{shape: []int{6, 256}, gamma: true, eps: 1e-3},
		{shape: []int{5, 300}, residual: true, beta: true, inPlace: true},
		{shape: []int{1, 4097}, residual: true, gamma: true, beta: true},
	} {
		t.Run(fmt.Sprint(c.shape, c.residual, c.gamma, c.beta, c.inPlace), func(t *testing.T) {
			n := backend.Shape(c.shape).Numel()
			cols := c.shape[len(c.shape)-1]
			xs := randomSlice(rng, n, 3, 2)
			x := upload(t, d, xs, c.shape...)
			defer x.Release()
			var rs, gs, bs []float32
			opt := backend.LayerNormOptions{Eps: c.eps}
			if c.residual {
				rs = randomSlice(rng, n, -1, 1)
				opt.Residual = upload(t, d, rs, c.shape...)
			}
			if c.gamma {
				gs = randomSlice(rng, cols, 1, 0.5)
				opt.Gamma = upload(t, d, gs, cols)
			}
			if c.beta {
				bs = randomSlice(rng, cols, 0, 0.5)
				opt.Beta = upload(t, d, bs, cols)
			}
			dst := x
			if !c.inPlace {
				var err error
				if dst, err = d.Alloc(c.shape...); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.LayerNorm(dst, x, opt); err != nil {
				t.Fatal(err)
			}
			ref, naive := layerNormRef(xs, rs, gs, bs, cols, opt.EffectiveEps())
			if rep := tolerance.CheckRows(download(t, d, dst), ref, naive, cols); !rep.OK() {
				t.Errorf("shape %v seed 7/11: %v", c.shape, rep)
			}
		})
	}
}

func TestLayerNormErrors(t *testing.T) {
	d := gputest.Device(t)
	x, err := d.Alloc(2, 3)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := d.Alloc(4)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.LayerNorm(x, x, backend.LayerNormOptions{Gamma: bad}); !errorsIs(err, backend.ErrShape) {
		t.Errorf("gamma of the wrong size: %v", err)
	}
	if err := d.LayerNorm(x, x, backend.LayerNormOptions{Eps: -1}); !errorsIs(err, backend.ErrArgument) {
		t.Errorf("negative eps: %v", err)
	}
}

// positionalRef is x*scale + PE in float64 and as PyTorch computes it in float32.
func positionalRef(x []float32, batch, seq, dm, start int, scale float32) ([]float64, []float32) {
	ref := make([]float64, batch*seq*dm)
	naive := make([]float32, len(ref))
	for r := range batch * seq {
		pos := start + r%seq
		for j := range dm {
			i2 := j &^ 1
			a64 := float64(pos) * math.Pow(10000, -float64(i2)/float64(dm))
			div32 := float32(math.Exp(float64(float32(i2) * float32(-math.Log(10000)/float64(dm)))))
			a32 := float64(float32(pos) * div32)
			pe64, pe32 := math.Sin(a64), float32(math.Sin(a32))
			if j&1 == 1 {
				pe64, pe32 = math.Cos(a64), float32(math.Cos(a32))
			}
			if x != nil {
				pe64 += float64(x[r*dm+j]) * float64(scale)
				pe32 += x[r*dm+j] * scale
			}
			ref[r*dm+j], naive[r*dm+j] = pe64, pe32
		}
	}
	return ref, naive
}

func TestPositionalEncoding(t *testing.T) {
	d := gputest.Device(t)
	rng := rand.New(rand.NewPCG(3, 5))
	for _, c := range []struct {
		batch, seq, dm, start int
		withX                 bool
		scale                 float32
	}{
		{batch: 2, seq: 50, dm: 16, withX: true, scale: 4},
		{batch: 1, seq: 40, dm: 10, start: 1000},
		{batch: 3, seq: 9, dm: 7, start: 5, withX: true},
		{batch: 1, seq: 64, dm: 512, start: 4000, withX: true, scale: float32(math.Sqrt(512))},
	} {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			shape := []int{c.batch, c.seq, c.dm}
			if c.batch == 1 && !c.withX {
				shape = shape[1:]
			}
			n := c.batch * c.seq * c.dm
			dst, err := d.Alloc(shape...)
			if err != nil {
				t.Fatal(err)
			}
			var xs []float32
			var x backend.Tensor
			if c.withX {
				xs = randomSlice(rng, n, 0, 1)
				x = upload(t, d, xs, shape...)
			}
			if err := d.PositionalEncoding(dst, x, backend.PositionalOptions{Start: c.start, InputScale: c.scale}); err != nil {
				t.Fatal(err)
			}
			scale := c.scale
			if scale == 0 {
				scale = 1
			}
			ref, naive := positionalRef(xs, c.batch, c.seq, c.dm, c.start, scale)
			if rep := tolerance.CheckRows(download(t, d, dst), ref, naive, c.dm); !rep.OK() {
				t.Errorf("%+v seed 3/5: %v", c, rep)
			}
		})
	}
}
