package gpu

import (
	"fmt"

	"github.com/clattn/clattn/backend"
)

// attentionConfig is the tiling of the attention kernels, passed as build-time
// defines. A Tuning (SetTuning) may replace the fused-kernel tiles.
type attentionConfig struct {
	// CPU selects flash_cpu.cl (explicit float16 vectors, for CPU devices) for
	// the fused kernel instead of flash.cl (work-item tiles, for GPUs).
	CPU bool

	// flash.cl: BM query rows per work-group on TR x TC work-items (TR along
	// rows, TC along keys and value columns), BN keys per local tile, LPad
	// floats of padding per local row (1 avoids bank conflicts on GPUs).
	BM, BN, TR, TC, LPad int

	// flash_cpu.cl: RB query rows per work-item, NW work-items per group, KB
	// keys per local tile.
	RB, NW, KB int

	// attn_bmm (Scores, AttendValues): a TM x TN output tile per work-group in
	// steps of TK, RM x RN outputs per work-item. With CPU, attn_bmm_cpu: RN ==
	// TN (a multiple of 16), so each work-item owns RM rows of the tile.
	TM, TN, TK, RM, RN int

	// attn_softmax: SoftmaxGroup work-items per row (a power of two). With CPU,
	// attn_softmax_cpu: SoftmaxGroup rows per work-group, one per work-item.
	SoftmaxGroup int

	// decode_split (GPUs): DecodeLocal work-items per group (a power of two);
	// the CPU kernel runs one per group.
	DecodeLocal int
}

// The shipped attention tilings (classProfiles picks one per device class;
// Device.SetTuning may override the fused tiles, and Open applies those
// gpubench tune cached). For large head dims the fused tiles shrink until they
// fit the device (fusedFor).
var (
	// attentionConfigCPU: flash_cpu.cl with float16 vectors along keys and
	// value columns; 8 rows share each transposed K load (~4x flash.cl on PoCL).
	attentionConfigCPU = attentionConfig{CPU: true, RB: 8, NW: 4, KB: 128,
		BM: 32, BN: 32, TR: 8, TC: 16,
		TM: 32, TN: 32, TK: 64, RM: 8, RN: 32, SoftmaxGroup: 4}
	// attentionConfigNVIDIA: flash.cl with 4 consecutive rows per work-item
	// (float4 reads) and padded local rows: 4x2 scores and 4x4 outputs per item
	// in registers; the Q, K-then-V and P tiles take 38.9 KB of the 48 KB OpenCL
	// limit at d=64, 42.3 KB at d=128 (shrunk to 32 rows on 8x16 items).
	// Built for the H100 (make gpu-offline, ptxas 11.8): 107 registers at d=64
	// and 127 at d=128, no spills, 16 warps per SM (25%, bound by registers);
	// the attn_bmm tile 40-45 registers and the softmax 35, 40-48 warps.
	attentionConfigNVIDIA = attentionConfig{BM: 64, BN: 32, TR: 16, TC: 16, LPad: 1,
		TM: 64, TN: 64, TK: 16, RM: 4, RN: 4, SoftmaxGroup: 256, DecodeLocal: 128}
	// attentionConfigGeneric: smaller tiles for smaller register files and
	// local memories.
	attentionConfigGeneric = attentionConfig{BM: 32, BN: 32, TR: 8, TC: 16, LPad: 1,
		TM: 32, TN: 32, TK: 16, RM: 2, RN: 2, SoftmaxGroup: 128, DecodeLocal: 64}
)

// padHeadDim rounds a head dim up to the granularity of the specialised builds
// (8 up to 32, 16 up to 128, 32 beyond), so that a few builds serve every size.
func padHeadDim(d int, cpu bool) int {
	step := 32
	switch {
	case cpu:
		step = 16 // flash_cpu.cl works in float16 vectors
	case d <= 32:
		step = 8
	case d <= 128:
		step = 16
	}
	return max(roundUp(d, step), step)
}

// fusedKernel is one launchable shape of the fused attention kernel.
type fusedKernel struct {
	file, kernel string
	options      []string
	rows         int // query rows per work-group
	local        []int
}

// fusedFor returns the fused kernel build for head dims dk, dv: the class
// default, its tiles halved until the local memory and work-group fit the device.
func (c attentionConfig) fusedFor(info DeviceInfo, dk, dv int) (fusedKernel, error) {
	c, err := c.fitted(info, dk, dv)
	if err != nil {
		return fusedKernel{}, err
	}
	dkp, dvp := padHeadDim(dk, c.CPU), padHeadDim(dv, c.CPU)
	file, kernel := cpuVariant(c.CPU, "flash.cl", "flash_attention")
	if c.CPU {
		return fusedKernel{
			file: file, kernel: kernel,
			options: []string{fmt.Sprintf("-DRB=%d -DNW=%d -DKB=%d -DDKP=%d -DDVP=%d", c.RB, c.NW, c.KB, dkp, dvp)},
			rows:    c.RB * c.NW, local: []int{c.NW, 1},
		}, nil
	}
	return fusedKernel{
		file: file, kernel: kernel,
		options: []string{fmt.Sprintf("-DBM=%d -DBN=%d -DTR=%d -DTC=%d -DLPAD=%d -DDKP=%d -DDVP=%d", c.BM, c.BN, c.TR, c.TC, c.LPad, dkp, dvp)},
		rows:    c.BM, local: []int{c.TC, c.TR},
	}, nil
}

// fitted returns c with its fused tiles halved until the local memory and
// work-group of head dims dk, dv fit the device.
func (c attentionConfig) fitted(info DeviceInfo, dk, dv int) (attentionConfig, error) {
	dkp, dvp := padHeadDim(dk, c.CPU), padHeadDim(dv, c.CPU)
	limit := localLimit(info)
	if c.CPU {
		for c.KB > 16 && flashCPULocalBytes(c.KB, dkp) > limit {
			c.KB /= 2
		}
		if flashCPULocalBytes(c.KB, dkp) > limit || c.NW > max(info.MaxWorkGroupSize, 1) {
			return c, fmt.Errorf("head dim %d needs %d bytes of local memory, the device has %d", dk, flashCPULocalBytes(c.KB, dkp), limit)
		}
		return c, nil
	}
	bytes := func() int64 { return flashLocalBytes(c.BM, c.BN, c.TC, c.LPad, dkp, dvp) }
	for bytes() > limit || c.TR*c.TC > info.MaxWorkGroupSize {
		switch {
		case c.BM > c.TR:
			// Fewer query rows first, keeping each work-item's rows (4 on
			// NVIDIA, read as float4) while the group keeps 8 rows of items:
			// at d=128 the H100 gets 32 rows x 32 keys on 8x16 items.
			c.BM /= 2
			if c.TR > 8 {
				c.TR /= 2
			}
		case c.BN > c.TC:
			c.BN /= 2
		case c.TC > 1:
			c.TC /= 2
			c.BN = c.TC
		case c.TR > 1:
			c.TR /= 2
			c.BM = c.TR
		default:
			return c, fmt.Errorf("head dims %d, %d need %d bytes of local memory, the device has %d", dk, dv, bytes(), limit)
		}
	}
	return c, nil
}

// localLimit is the device's local memory per work-group, or the OpenCL
// minimum where it reports none.
func localLimit(info DeviceInfo) int64 {
	if info.LocalMem <= 0 {
		return 32 << 10
	}
	return info.LocalMem
}

// flashLocalBytes is the local memory of flash.cl: the Q tile, the buffer the
// K and V tiles share (V is loaded once the scores no longer need K), the P
// and reduction tiles, whose rows of bm+4*lpad floats keep float4 reads
// aligned, and a flag; each array rounded up to 16 bytes for its alignment.
func flashLocalBytes(bm, bn, tc, lpad, dkp, dvp int) int64 {
	qw := bm + 4*lpad
	floats := func(n int) int64 { return int64(4 * roundUp(n, 4)) }
	return floats(dkp*qw) + floats(max(dkp*(bn+lpad), bn*(dvp+lpad))) + floats(bn*qw) + floats(tc*qw) + 16
}

// flashCPULocalBytes is the local memory of flash_cpu.cl: the transposed K
// tile and two flags.
func flashCPULocalBytes(kb, dkp int) int64 { return int64(4*dkp*kb + 8) }

// bmmOptions are the attn_bmm defines; skipZero and bNK select the
// AttendValues and Scores variants.
func (c attentionConfig) bmmOptions(bNK, skipZero bool) []string {
	o := []string{fmt.Sprintf("-DTM=%d -DTN=%d -DTK=%d -DRM=%d -DRN=%d -DLPAD=%d", c.TM, c.TN, c.TK, c.RM, c.RN, c.LPad)}
	if bNK {
		o = append(o, "-DB_NK")
	}
	if skipZero {
		o = append(o, "-DSKIP_ZERO_A")
	}
	return o
}

// decodeMaxRows is the most query rows (Sq) that Attention sends to the decode
// kernel (kernels/decode.cl); decodeMaxHeadDim the largest head dims it takes.
const (
	decodeMaxRows    = 16
	decodeMaxHeadDim = 256
)

// useDecode is the one rule that chooses between the decode (flash-decoding)
// and the prefill (flash) kernels: a few query rows (one decode step, a short
// chunk or a speculative batch) take the decode kernel, which splits the keys
// over many work-groups and reads each K/V head once for all of its query
// heads; longer queries take the prefill kernel, which already has a
// work-group per block of query rows.
func useDecode(dims backend.AttentionDims) bool {
	return dims.SeqQ <= decodeMaxRows && dims.DimK <= decodeMaxHeadDim && dims.DimV <= decodeMaxHeadDim
}

// decodePlan is one decode launch: RB query rows per work-group (rowBlocks
// blocks per KV head), the keys cut into splits slices of sliceLen, and on GPUs
// local work-items per group and a score block of sl keys.
type decodePlan struct {
	cpu              bool
	rb, rowBlocks    int
	splits, sliceLen int
	local, sl        int
	dkp, dvp         int
	groupsPerSplit   int // batch x KV heads x row blocks
}

// Decode shapes (decodePlanFor). Both kernels aim at decodeGroupsPerUnit
// work-groups per compute unit, splitting the keys no finer than a minimum
// slice:
//
//	kernel            rows per group            work-items          slice (keys)          why
//	decode_split_cpu  up to 8                   1                   >= 256                one sequential walk per group in
//	                                                                                      float16 vectors; few large groups
//	                                                                                      keep PoCL's scheduling and the
//	                                                                                      merge small
//	decode_split      up to 8 (a power of 2;    DecodeLocal (128    64 ... 2048, the      V read coalesced along the head
//	                  2 below head dim 32)      NVIDIA/AMD, 64      slice's scores in     dim; one reduction per slice;
//	                                            others)             half the local mem.   several groups per unit
const (
	decodeCPURows       = 8
	decodeGPURows       = 8
	decodeGroupsPerUnit = 4
	decodeCPUMinSlice   = 256
	decodeGPUMinSlice   = 64
	decodeGPUMaxSlice   = 2048
)

// decodePlanFor splits a decode call of dims over the device; c says which
// kernel (c.CPU) and its work-group size (c.DecodeLocal).
func decodePlanFor(c attentionConfig, info DeviceInfo, dims backend.AttentionDims) (decodePlan, error) {
	groupRows := dims.Group() * dims.SeqQ
	p := decodePlan{cpu: c.CPU, dkp: padHeadDim16(dims.DimK), dvp: padHeadDim16(dims.DimV)}
	minSlice, maxSlice := decodeCPUMinSlice, max(dims.SeqK, 1)
	if c.CPU {
		p.rb = min(groupRows, decodeCPURows)
		p.local = 1
	} else {
		// The most rows (a power of two, up to decodeGPURows) whose score block
		// of at least decodeGPUMinSlice keys fits; the largest score block that
		// leaves half the local memory to other groups.
		minSlice = decodeGPUMinSlice
		fits := func(rb, sl int) bool {
			return decodeLocalBytes(rb, sl, max(c.DecodeLocal, rb), p.dkp, p.dvp) <= localLimit(info)/2
		}
		p.rb = min(nextPow2(groupRows), decodeGPURows, decodeGPURowsFor(p.dkp))
		for p.rb > 1 && !fits(p.rb, minSlice) {
			p.rb /= 2
		}
		p.local = max(c.DecodeLocal, p.rb)
		if !fits(p.rb, minSlice) || p.local > max(info.MaxWorkGroupSize, 1) {
			return p, fmt.Errorf("decode kernel: head dims %d, %d do not fit %d bytes of local memory and %d work-items",
				dims.DimK, dims.DimV, localLimit(info), info.MaxWorkGroupSize)
		}
		maxSlice = decodeGPUMaxSlice
		for maxSlice > minSlice && !fits(p.rb, maxSlice) {
			maxSlice /= 2
		}
	}
	p.rowBlocks = ceilDiv(groupRows, p.rb)
	p.groupsPerSplit = dims.Batch * dims.HeadsKV * p.rowBlocks
	splits := ceilDiv(decodeGroupsPerUnit*max(info.ComputeUnits, 1), max(p.groupsPerSplit, 1))
	splits = min(splits, max(ceilDiv(dims.SeqK, minSlice), 1)) // no slice shorter than minSlice
	splits = max(splits, ceilDiv(dims.SeqK, maxSlice))         // none longer than the score block
	p.sliceLen = roundUp(max(ceilDiv(dims.SeqK, max(splits, 1)), 1), 16)
	p.splits = max(ceilDiv(dims.SeqK, p.sliceLen), 1)
	p.sl = max(nextPow2(p.sliceLen), decodeGPUMinSlice)
	if b, limit := p.scratchBytes(dims), min(info.MaxAlloc/2, decodeMaxScratch); b > limit {
		return p, fmt.Errorf("decode kernel: %d splits of %d rows need %d bytes of partials, more than %d",
			p.splits, dims.Batch*dims.Heads*dims.SeqQ, b, limit)
	}
	return p, nil
}

// decodeMaxScratch bounds the decode partials; a call that needs more (many
// rows and keys at once) takes the prefill kernel, which has parallelism enough.
const decodeMaxScratch = 256 << 20

// scratchBytes is the size of the partials of p for dims: per split and query
// row an output of DimV floats, a max and a sum.
func (p decodePlan) scratchBytes(dims backend.AttentionDims) int64 {
	return 4 * int64(p.splits) * int64(dims.Batch*dims.Heads*dims.SeqQ) * int64(dims.DimV+2)
}

// decodeGPURowsFor caps decode_split's rows per group by the head dim: at small
// head dims the compilers keep more of each row's work in registers, and 8
// rows at 16 spill on the H100 and 4 at 16 on gfx90a (make gpu-offline; 16
// rows spill SGPRs on gfx90a at every head dim, so decodeGPURows is 8).
func decodeGPURowsFor(dkp int) int {
	if dkp >= 32 {
		return decodeGPURows
	}
	return 2
}

// options are the decode kernel's build options.
func (p decodePlan) options() []string {
	if p.cpu {
		return []string{fmt.Sprintf("-DRB=%d -DDKP=%d -DDVP=%d", p.rb, p.dkp, p.dvp)}
	}
	return []string{fmt.Sprintf("-DRB=%d -DNT=%d -DSL=%d -DDKP=%d -DDVP=%d", p.rb, p.local, p.sl, p.dkp, p.dvp)}
}

// decodeLocalBytes is the local memory of decode_split (kernels/decode.cl): the
// query rows, the score block (which the key groups' sums reuse), the
// reduction array and the row maxima and sums.
func decodeLocalBytes(rb, sl, nt, dkp, dvp int) int64 {
	cv := dvp / 4
	kg := 1
	if cv < nt {
		kg = nt / cv
	}
	return int64(4 * (rb*dkp + max(rb*sl, kg*rb*dvp) + nt + 2*rb))
}

// padHeadDim16 rounds a head dim up to a multiple of 16 (at least 16).
func padHeadDim16(d int) int { return max(roundUp(d, 16), 16) }

// nextPow2 is the smallest power of two >= n (1 for n <= 1).
func nextPow2(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}
