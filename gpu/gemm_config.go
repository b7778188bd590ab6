package gpu

import (
	"fmt"

	"github.com/clattn/clattn/backend"
)

// gemmConfig is the tiling of kernels/gemm.cl, passed as build-time defines.
// A work-group computes a TM x TN block of C in steps of TK along k, with
// (TN/WPTN) x (TM/WPTM) work-items of WPTM x WPTN results each. Each work-item
// reads its columns of the local B tile as VWN-wide vectors and its rows of the
// local A tile (stored transposed) as aVecWidth-wide ones: on the GPU tilings 2
// float4 reads of A and 1 of B per k step for an 8x4 micro-tile, where scalar A
// reads took 8 + 1.
type gemmConfig struct {
	TM, TN, TK int // work-group tile
	WPTM, WPTN int // work-item micro-tile
	VWN        int // vector width of the micro-tile columns (1, 2, 4, 8, 16)
	LVW        int // vector width of the global loads where a view is aligned (1, 2, 4, 8, 16)
	Unroll     int // unroll factor of the micro-tile loops; 0 = full
}

// The shipped GEMM tilings (classProfiles picks one per device class, fitted
// to the device; Device.SetTuning may override it, and Open applies the tiles
// gpubench tune cached for the device). The fully unrolled tilings read A from
// local memory in VWN-wide vectors too (aVecWidth), the CPU one in scalars.
var (
	// gemmConfigCPU: an 8x32 micro-tile is 16 AVX-512 accumulators; PoCL loses
	// its registers on a full unroll; 128-wide tiles beat 64 (77 vs 63 GFLOP/s
	// at 1024^3, 2 cores). Work-groups of 4x16.
	gemmConfigCPU = gemmConfig{TM: 128, TN: 128, TK: 64, WPTM: 8, WPTN: 32, VWN: 16, LVW: 16, Unroll: 2}
	// gemmConfigNVIDIA: 128x128 tiles on 32x16 work-items of 8x4 results,
	// float4 global and local reads (2+1 per k step), 33 KB of double-buffered
	// local tiles. Built for the H100 (make gpu-offline): 97 registers, no
	// spills, 16 warps per SM (25%), FFMA 80% of the inner loop. The 8x8
	// micro-tile on 16x16 items took 187 registers: one work-group, 8 warps
	// (12.5%) per SM, too few to hide the latency of its loads; capped at 128
	// registers it spills. gpubench tune still tries 8x8.
	gemmConfigNVIDIA = gemmConfig{TM: 128, TN: 128, TK: 16, WPTM: 8, WPTN: 4, VWN: 4, LVW: 4}
	// gemmConfigGeneric (AMD, Apple, Intel, other): smaller register files and
	// 64-wide waves; 4x4 micro-tiles keep occupancy up.
	gemmConfigGeneric = gemmConfig{TM: 64, TN: 64, TK: 16, WPTM: 4, WPTN: 4, VWN: 4, LVW: 4}
	// gemmConfigSmall fits any OpenCL 1.2 device (64 work-items, 4.3 KB of local memory).
	gemmConfigSmall = gemmConfig{TM: 32, TN: 32, TK: 8, WPTM: 4, WPTN: 4, VWN: 4, LVW: 4}
)

// gemmConfigSized is the tiling c (the device's default or its Tuning) for one
// product: where the profile says so (GPUs), a product too small to give every
// compute unit a work-group of c takes the 64x64 generic tiling instead (four
// times as many work-groups per product).
func gemmConfigSized(c gemmConfig, p Profile, info DeviceInfo, dims backend.GemmDims) gemmConfig {
	if !p.SmallGemmTiling || c.TM*c.TN <= gemmConfigGeneric.TM*gemmConfigGeneric.TN {
		return c
	}
	groups := ceilDiv(dims.M, c.TM) * ceilDiv(dims.N, c.TN) * dims.Batch
	if groups < info.ComputeUnits && gemmConfigGeneric.fits(info) {
		return gemmConfigGeneric
	}
	return c
}

// fits reports whether the device can run c: work-group size and local memory.
func (c gemmConfig) fits(info DeviceInfo) bool {
	x, y := c.localSize()
	if x*y > info.MaxWorkGroupSize {
		return false
	}
	if len(info.MaxWorkItemSizes) >= 2 && (x > info.MaxWorkItemSizes[0] || y > info.MaxWorkItemSizes[1]) {
		return false
	}
	return int64(c.localBytes()) <= info.LocalMem
}

// valid reports whether the tile sizes divide as the kernel requires.
func (c gemmConfig) valid() error {
	ok := c.TM > 0 && c.TN > 0 && c.TK > 0 && c.WPTM > 0 && c.WPTN > 0 && c.Unroll >= 0 &&
		c.TM%c.WPTM == 0 && c.TN%c.WPTN == 0
	for _, w := range []int{c.VWN, c.LVW} {
		switch w {
		case 1, 2, 4, 8, 16:
		default:
			ok = false
		}
	}
	if ok {
		x, y := c.localSize()
		n := x * y
		ok = c.WPTN%c.VWN == 0 && c.TM%c.LVW == 0 && c.TN%c.LVW == 0 && c.TK%c.LVW == 0 &&
			(c.TM*c.TK)%(n*c.LVW) == 0 && (c.TN*c.TK)%(n*c.LVW) == 0
	}
	if !ok {
		return fmt.Errorf("gemm tiling %+v: tiles must divide into micro-tiles, vectors and work-items", c)
	}
	return nil
}

// localSize is the work-group shape: columns, rows of work-items.
func (c gemmConfig) localSize() (x, y int) { return c.TN / c.WPTN, c.TM / c.WPTM }

// aVecWidth is the vector width of a work-item's local reads of A (VWM in
// kernels/gemm.cl): VWN where the micro-tile loops unroll fully (the GPU tilings)
// and VWN divides WPTM, else 1, scalar reads. The partially unrolled CPU tiling
// keeps scalar A: on PoCL (2 cores, 1024^3) it runs at ~65 GFLOP/s so, and at
// 7.6 with float8 A reads.
func (c gemmConfig) aVecWidth() int {
	if c.Unroll == 0 && c.VWN > 0 && c.WPTM%c.VWN == 0 {
		return c.VWN
	}
	return 1
}

// localBytes is the local memory of the two buffered A and B tiles; the A tile's
// rows are padded by aVecWidth floats.
func (c gemmConfig) localBytes() int { return 2 * c.TK * (c.TM + c.aVecWidth() + c.TN) * 4 }

// options are the build options that select c in kernels/gemm.cl.
func (c gemmConfig) options() []string {
	return []string{
		fmt.Sprintf("-DTM=%d", c.TM), fmt.Sprintf("-DTN=%d", c.TN), fmt.Sprintf("-DTK=%d", c.TK),
		fmt.Sprintf("-DWPTM=%d", c.WPTM), fmt.Sprintf("-DWPTN=%d", c.WPTN),
		fmt.Sprintf("-DVWN=%d", c.VWN), fmt.Sprintf("-DVWM=%d", c.aVecWidth()),
		fmt.Sprintf("-DLVW=%d", c.LVW), fmt.Sprintf("-DUNR=%d", c.Unroll),
	}
}

// vectorLoads reports whether the kernel may read m with LVW-wide vector loads: its
// offset, strides and line length (columns) are multiples of LVW, so every vector of
// a line starts aligned and lies wholly inside or wholly past the line.
func (c gemmConfig) vectorLoads(m backend.Mat) bool {
	l := c.LVW
	return m.Offset%l == 0 && m.Cols%l == 0 && (m.Rows <= 1 || m.RowStride%l == 0) &&
		(m.Batch <= 1 || m.BatchStride%l == 0)
}
