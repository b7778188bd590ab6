package gpu

import (
	"fmt"
	"strings"
)

// DeviceClass is a family of OpenCL devices that shares kernel variants, tiles
// and driver quirks (see Profile).
type DeviceClass int

const (
	// ClassGeneric: GPUs and accelerators of other vendors (Apple, Qualcomm, ...).
	ClassGeneric DeviceClass = iota
	// ClassCPU: CPU devices (PoCL, Intel's and AMD's CPU runtimes), whatever the vendor.
	ClassCPU
	ClassNVIDIA
	ClassAMD
	ClassIntel
)

func (c DeviceClass) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return fmt.Sprintf("DeviceClass(%d)", int(c))
	}
	return classNames[c]
}

var classNames = [...]string{"generic", "cpu", "nvidia", "amd", "intel"}

// ClassOf is the class of a device: CPU by its type, GPUs and accelerators by
// the vendor, platform or device name. It is the one place that reads them.
func ClassOf(info DeviceInfo) DeviceClass {
	if info.Type == "cpu" {
		return ClassCPU
	}
	vendor := strings.ToLower(info.Vendor + " " + info.Platform + " " + info.Name)
	switch {
	case strings.Contains(vendor, "nvidia"):
		return ClassNVIDIA
	case strings.Contains(vendor, "amd") || strings.Contains(vendor, "advanced micro devices"):
		return ClassAMD
	case strings.Contains(vendor, "intel"):
		return ClassIntel
	}
	return ClassGeneric
}

// Profile is what clattn makes of a device: its class, the kernel variants and
// driver quirks of that class, and the shipped tiling of every kernel fitted to
// the device's limits. A Device computes its profile once, when opened
// (PretendToBe sets another). The tiles a device runs are looked up as
// CLBlast's database does: the device's own entry (the user's tuning cache,
// written by gpubench tune and applied by Open, or SetTuning), else its class's
// entry of the shipped table (classProfiles), else the generic entry; a class
// tiling the device cannot hold falls back to the generic one, then the small
// one (GEMM), or shrinks (attention).
type Profile struct {
	Class DeviceClass
	// CPUKernels selects the kernel variants shaped for CPU devices, which run
	// a work-group as a loop over its work-items (PoCL): barrier-free row
	// kernels (layer_norm_cpu, attn_softmax_cpu), float16-vector tiles
	// (flash_attention_cpu, attn_bmm_cpu), the fused FeedForward for few rows
	// and the CPU micro-tiles among Tune's GEMM candidates.
	CPUKernels bool
	// MaxGroupsAboveDim0 is the most work-groups a launch may have along
	// dimensions 1 and 2 (NVIDIA's OpenCL, as CUDA: 65535), 0 for no limit.
	// Kernels put their large counts (rows, tiles) along dimension 0.
	MaxGroupsAboveDim0 int
	// SmallGemmTiling: a product too small to give every compute unit a
	// work-group of the GEMM tiling takes the 64x64 generic tiling (GPUs).
	SmallGemmTiling bool
	// LanesPerUnit is the FP32 lanes of one compute unit, for peak estimates;
	// LanesNote says what they are.
	LanesPerUnit int
	LanesNote    string

	gemm      gemmConfig
	attention attentionConfig
}

// classProfile is one class's entry of the shipped table.
type classProfile struct {
	cpuKernels         bool
	maxGroupsAboveDim0 int
	lanes              int
	lanesNote          string
	gemm               gemmConfig
	attention          attentionConfig
}

// classProfiles is the shipped table; each tiling's reasons are noted where it
// is defined (gemm_config.go, attention_config.go). Its values, as
// TestClassTableDocumented checks:
//
//	class    GEMM tile (micro, vectors, unroll)  fused attention                        attn_bmm (micro)  softmax  groups on dims 1-2
//	generic  64x64x16 (4x4, 4/4, full)           flash: 32 rows, 32 keys, 8x16 items    32x32x16 (2x2)    128      any
//	cpu      128x128x64 (8x32, 16/16, 2)         flash_cpu: 8 rows x 4 items, 128 keys  32x32x64 (8x32)   4 rows   any
//	nvidia   128x128x16 (8x4, 4/4, full)         flash: 64 rows, 32 keys, 16x16 items   64x64x16 (4x4)    256      65535
//	amd      64x64x16 (4x4, 4/4, full)           flash: 64 rows, 32 keys, 16x16 items   64x64x16 (4x4)    256      any
//	intel    64x64x16 (4x4, 4/4, full)           flash: 32 rows, 32 keys, 8x16 items    32x32x16 (2x2)    128      any
var classProfiles = [...]classProfile{
	ClassGeneric: {lanes: 64, lanesNote: "GPU unit: 64 FP32 lanes assumed",
		gemm: gemmConfigGeneric, attention: attentionConfigGeneric},
	ClassCPU: {cpuKernels: true, lanes: 16, lanesNote: "CPU core: two 8-wide FMA pipes",
		gemm: gemmConfigCPU, attention: attentionConfigCPU},
	ClassNVIDIA: {maxGroupsAboveDim0: 65535, lanes: 128, lanesNote: "NVIDIA SM: 128 FP32 lanes",
		gemm: gemmConfigNVIDIA, attention: attentionConfigNVIDIA},
	// AMD: NVIDIA's attention tiles (64 KB of local memory per group), the generic GEMM.
	ClassAMD: {lanes: 64, lanesNote: "AMD CU: 64 FP32 lanes",
		gemm: gemmConfigGeneric, attention: attentionConfigNVIDIA},
	ClassIntel: {lanes: 8, lanesNote: "Intel EU: 8 FP32 lanes",
		gemm: gemmConfigGeneric, attention: attentionConfigGeneric},
}

// ProfileOf computes the profile of the device info describes.
func ProfileOf(info DeviceInfo) Profile {
	class := ClassOf(info)
	e := classProfiles[class]
	p := Profile{
		Class: class, CPUKernels: e.cpuKernels, MaxGroupsAboveDim0: e.maxGroupsAboveDim0,
		SmallGemmTiling: info.Type == "gpu", LanesPerUnit: e.lanes, LanesNote: e.lanesNote,
		gemm: fitGemm(e.gemm, info), attention: fitAttention(e.attention, info),
	}
	if info.Type != "gpu" && class != ClassCPU {
		// An accelerator is counted as CPU cores.
		p.LanesPerUnit, p.LanesNote = classProfiles[ClassCPU].lanes, classProfiles[ClassCPU].lanesNote
	}
	return p
}

// fitGemm is c, else the generic tiling, else the small one: the first whose
// work-group and local tiles the device can hold.
func fitGemm(c gemmConfig, info DeviceInfo) gemmConfig {
	for _, c := range []gemmConfig{c, gemmConfigGeneric} {
		if c.valid() == nil && c.fits(info) {
			return c
		}
	}
	return gemmConfigSmall
}

// fitAttention is c with its softmax and attn_bmm work-groups reduced to what
// the device allows (the fused tiles shrink per head dim: fusedFor).
func fitAttention(c attentionConfig, info DeviceInfo) attentionConfig {
	limit := max(info.MaxWorkGroupSize, 1)
	for c.SoftmaxGroup > limit {
		c.SoftmaxGroup /= 2
	}
	for c.DecodeLocal > limit {
		c.DecodeLocal /= 2
	}
	for (c.TM/c.RM)*(c.TN/c.RN) > limit && c.TM > c.RM {
		c.TM /= 2
		c.TN /= 2
		if c.TN < c.RN {
			c.TN = c.RN
		}
	}
	return c
}

// Profile is the device's profile (see Profile).
func (d *Device) Profile() Profile { return d.profile }

// ChooseAs makes d choose its kernels, tiles and paths as on the device info
// describes (H100, MI250X, ...), while still running them on its own OpenCL
// device, until restore is called: to check another vendor's paths on PoCL
// (tests) or list the programs they build (Programs, gpu-offline). No call may
// run on d meanwhile.
func (d *Device) ChooseAs(info DeviceInfo) (restore func()) {
	orig, origProfile := d.info, d.profile
	info.Index, info.dev = orig.Index, orig.dev
	d.info, d.profile = info, ProfileOf(info)
	return func() { d.info, d.profile = orig, origProfile }
}
