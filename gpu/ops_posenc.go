package gpu

import (
	"encoding/binary"
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

// frequencies returns the device buffer of w_i = 10000^(-2i/width) for the
// sinusoidal encoding, as float32 hi+lo pairs (see frequencyTable).
func (d *Device) frequencies(width int) (*cl.Mem, error) {
	w := make([]float64, (width+1)/2)
	for i := range w {
		w[i] = math.Pow(10000, -float64(2*i)/float64(width))
	}
	return d.frequencyTable(w)
}

// frequencyTable returns the device buffer of the frequencies w (float64) as
// float32 hi+lo pairs: hi = float32(w), lo = float32(w - hi), so that a kernel
// carries an angle in two floats. The tables are cached on the device, keyed
// by their exact values: a caller's table changed between calls is a new
// table, and equal tables share one buffer.
func (d *Device) frequencyTable(w []float64) (*cl.Mem, error) {
	bits := make([]byte, 8*len(w))
	for i, v := range w {
		binary.LittleEndian.PutUint64(bits[8*i:], math.Float64bits(v))
	}
	d.mu.Lock()
	m := d.freqs[string(bits)]
	d.mu.Unlock()
	if m != nil {
		return m, nil
	}
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
	if old := d.freqs[string(bits)]; old != nil {
		_ = m.Release()
		m = old
	} else {
		d.freqs[string(bits)] = m
	}
	return m, nil
}
