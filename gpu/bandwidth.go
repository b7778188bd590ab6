package gpu

import (
	"fmt"
	"slices"
	"time"

	"github.com/clattn/clattn/backend"
)

// bandwidthPasses is the number of timed passes ReadBandwidth takes the median of.
const bandwidthPasses = 5

// ReadBandwidth measures the device's global-memory read bandwidth in GB/s (1e9
// bytes per second): stream_read (kernels/bandwidth.cl) reads a buffer of the
// given size (at least 1 MiB; pass one far larger than the caches, as
// bench.BandwidthBytes, 1 GiB, is) once per pass, timed by OpenCL profiling;
// the result is the median of a few passes after one untimed. It is the floor
// a memory-bound kernel such as decode attention is judged against (package
// bench). The buffer is allocated (zero-filled) for the call and freed after.
func (d *Device) ReadBandwidth(bytes int) (float64, error) {
	const op = "ReadBandwidth"
	if bytes < 1<<20 {
		return 0, backend.ArgumentErrorf(op, "%d bytes, want at least 1 MiB", bytes)
	}
	s := d.streamShape()
	n := bytes / (4 * s.vw)
	src, err := d.newBuffer(op, n*s.vw)
	if err != nil {
		return 0, err
	}
	defer src.Release()
	sums, err := d.newBuffer(op, s.groups*s.local)
	if err != nil {
		return 0, err
	}
	defer sums.Release()
	pass := func() error { return d.streamRead(s, src, sums) }
	if err := pass(); err != nil {
		return 0, err
	}
	times := make([]time.Duration, bandwidthPasses)
	for i := range times {
		if times[i], err = d.KernelTime(pass); err != nil {
			return 0, err
		}
	}
	slices.Sort(times)
	median := times[len(times)/2]
	if median <= 0 {
		return 0, d.wrap(op, fmt.Errorf("a pass over %d bytes took %v", 4*n*s.vw, median))
	}
	return float64(4*n*s.vw) / median.Seconds() / 1e9, nil
}

// newBuffer is a zero-filled float32 tensor of n elements made for op.
func (d *Device) newBuffer(op string, n int) (*Tensor, error) {
	if err := d.enter(op); err != nil {
		return nil, err
	}
	defer d.life.RUnlock()
	return d.newTensor(op, []int{n}, true)
}

// streamShape is how stream_read covers the buffer: float4 reads by 256
// work-items in 8 groups per compute unit on GPUs; float16 reads by one
// work-item per group, 4 groups (sequential streams) per core on devices that
// take the CPU kernels.
type streamShape struct{ vw, local, groups int }

func (d *Device) streamShape() streamShape {
	if d.profile.CPUKernels {
		return streamShape{vw: 16, local: 1, groups: 4 * max(d.info.ComputeUnits, 1)}
	}
	return streamShape{vw: 4, local: min(256, max(d.info.MaxWorkGroupSize, 1)), groups: 8 * max(d.info.ComputeUnits, 1)}
}

// streamRead enqueues one stream_read pass over src, each work-item's sum into
// sums (s.groups*s.local floats).
func (d *Device) streamRead(s streamShape, src, sums backend.Tensor) error {
	const op = "ReadBandwidth"
	if err := d.enter(op); err != nil {
		return err
	}
	defer d.life.RUnlock()
	n := src.Shape().Numel() / s.vw
	return d.launch(launch{
		op: op, file: "bandwidth.cl", kernel: "stream_read", options: []string{fmt.Sprintf("-DVW=%d", s.vw)},
		global: []int{s.groups * s.local}, local: []int{s.local},
		args: []any{src, n, ceilDiv(n, s.groups), sums},
	})
}
