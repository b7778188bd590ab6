package gpu

import (
	"fmt"
	"slices"
	"time"

	"github.com/clattn/clattn/backend"
)

// Memory bandwidth benchmark shape (MemoryBandwidth): a buffer of
// bandwidthBytes, within the device's largest buffer and a quarter of its
// memory (1 GiB is 20x an H100's L2 and 4x the 260 MiB L3 of the CI machine),
// read in bandwidthPasses timed passes after one untimed.
const (
	bandwidthBytes  = 1 << 30
	bandwidthPasses = 5
)

// MemoryBandwidth measures the device's global-memory read bandwidth in GB/s
// (1e9 bytes per second): stream_read (kernels/bandwidth.cl) reads a buffer far
// larger than the caches once per pass, timed by OpenCL profiling; the result
// is the median pass. It is the floor a memory-bound kernel such as decode
// attention is measured against (gpubench bench reports it as memory_gbps).
// It allocates the buffer for the call and frees it before returning.
func (d *Device) MemoryBandwidth() (float64, error) {
	info := d.Info()
	return d.memoryBandwidth(min(int64(bandwidthBytes), info.MaxAlloc, info.GlobalMem/4))
}

// memoryBandwidth is MemoryBandwidth over a buffer of size bytes.
func (d *Device) memoryBandwidth(size int64) (float64, error) {
	const op = "MemoryBandwidth"
	s := d.streamShape()
	n := int(size / int64(4*s.vw))
	if n == 0 {
		return 0, d.wrap(op, fmt.Errorf("%w: no room for a buffer (largest %d bytes, memory %d)",
			backend.ErrTooLarge, d.info.MaxAlloc, d.info.GlobalMem))
	}
	src, err := d.Alloc(n * s.vw)
	if err != nil {
		return 0, err
	}
	defer src.Release()
	sums, err := d.Alloc(s.groups * s.local)
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
	const op = "MemoryBandwidth"
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
