package gpu

import (
	"fmt"
	"math"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu/internal/cl"
)

// PositionalEncoding computes dst = x*opt.InputScale + PE with the
// positional_encoding kernel (x nil: dst = PE).
func (d *Device) PositionalEncoding(dst, x backend.Tensor, opt backend.PositionalOptions) error {
	const op = "PositionalEncoding"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	dims, err := backend.CheckPositional(dst, x, opt)
	if err != nil {
		return err
	}
	if err := d.checkTensors(op, dst, x); err != nil {
		return err
	}
	n := dims.Batch * dims.Seq * dims.D
	if n == 0 {
		return nil
	}
	if opt.Start+dims.Seq > 1<<24 {
		return backend.ArgumentErrorf(op, "positions up to %d are not exact in float32 (limit %d)", opt.Start+dims.Seq, 1<<24)
	}
	freq, err := d.frequencies(dims.D)
	if err != nil {
		return d.wrap(op, fmt.Errorf("kernel positional_encoding (posenc.cl): frequency table: %w", err))
	}
	scale := opt.InputScale
	if scale == 0 {
		scale = 1
	}
	hasX := 0
	if x != nil && asTensor(x) != nil {
		hasX = 1
	}
	const group = 64
	return d.launch(launch{
		op: op, file: "posenc.cl", kernel: "positional_encoding",
		global: []int{roundUp(n, group)}, local: []int{group},
		args: []any{dst, x, freq, n, dims.Seq, dims.D, opt.Start, scale, hasX},
	})
}

// freqKey identifies a frequency table: w_i = theta^(-2i/width) for i < pairs.
type freqKey struct {
	theta        float64
	width, pairs int
}

// frequencies returns the device buffer of w_i = 10000^(-2i/width) for the
// sinusoidal encoding, as float32 hi+lo pairs (see frequencyTable).
func (d *Device) frequencies(width int) (*cl.Mem, error) {
	key := freqKey{theta: 10000, width: width, pairs: (width + 1) / 2}
	return d.frequencyTable(key, func() []float64 {
		w := make([]float64, key.pairs)
		for i := range w {
			w[i] = math.Pow(key.theta, -float64(2*i)/float64(width))
		}
		return w
	})
}

// frequencyTable returns the device buffer of the frequencies of key (values
// computes them in float64 on a miss) as float32 hi+lo pairs: hi = float32(w),
// lo = float32(w - hi), so that a kernel carries an angle in two floats. The
// tables are cached on the device.
func (d *Device) frequencyTable(key freqKey, values func() []float64) (*cl.Mem, error) {
	d.mu.Lock()
	m := d.freqs[key]
	d.mu.Unlock()
	if m != nil {
		return m, nil
	}
	w := values()
	table := make([]float32, 2*max(len(w), 1))
	for i, v := range w {
		hi := float32(v)
		table[2*i], table[2*i+1] = hi, float32(v-float64(hi))
	}
	m, err := d.drv.createBuffer(d.ctx, 4*len(table))
	if err != nil {
		return nil, err
	}
	if err := d.drv.write(d.queue, m, table); err != nil {
		_ = m.Release()
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old := d.freqs[key]; old != nil {
		_ = m.Release()
		m = old
	} else {
		d.freqs[key] = m
	}
	return m, nil
}
