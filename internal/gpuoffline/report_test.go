package gpuoffline

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// ptxasOutput is what ptxas 11.8 printed for flash.cl and a second kernel.
const ptxasOutput = `ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'flash_attention' for 'sm_90'
ptxas info    : Function properties for flash_attention
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 107 registers, 38916 bytes smem
ptxas info    : Compiling entry function 'ffn_fused' for 'sm_90'
ptxas info    : Function properties for ffn_fused
    80 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads
ptxas info    : Used 40 registers
`

func TestParsePtxas(t *testing.T) {
	got, err := ParsePtxas(ptxasOutput)
	require.NoError(t, err)
	require.Equal(t, []Usage{
		{Kernel: "flash_attention", Registers: 107, LocalMem: 38916},
		{Kernel: "ffn_fused", Registers: 40, StackFrame: 80, Spills: 20},
	}, got)
	_, err = ParsePtxas("ptxas fatal   : Unresolved extern function 'foo'")
	require.Error(t, err)
}

// amdOutput is what clang 15 printed for flash.cl at gfx90a, with a made-up spill in a second kernel.
const amdOutput = `flash.cl:127:1: remark: Function Name: flash_attention [-Rpass-analysis=kernel-resource-usage]
flash.cl:127:1: remark:     SGPRs: 73 [-Rpass-analysis=kernel-resource-usage]
flash.cl:127:1: remark:     VGPRs: 131 [-Rpass-analysis=kernel-resource-usage]
flash.cl:127:1: remark:     AGPRs: 0 [-Rpass-analysis=kernel-resource-usage]
flash.cl:127:1: remark:     ScratchSize [bytes/lane]: 0 [-Rpass-analysis=kernel-resource-usage]
flash.cl:127:1: remark:     Occupancy [waves/SIMD]: 3 [-Rpass-analysis=kernel-resource-usage]
flash.cl:127:1: remark:     SGPRs Spill: 0 [-Rpass-analysis=kernel-resource-usage]
flash.cl:127:1: remark:     VGPRs Spill: 0 [-Rpass-analysis=kernel-resource-usage]
flash.cl:127:1: remark:     LDS Size [bytes/block]: 38916 [-Rpass-analysis=kernel-resource-usage]
ffn.cl:3:1: remark: Function Name: ffn_fused [-Rpass-analysis=kernel-resource-usage]
ffn.cl:3:1: remark:     SGPRs: 40 [-Rpass-analysis=kernel-resource-usage]
ffn.cl:3:1: remark:     VGPRs: 256 [-Rpass-analysis=kernel-resource-usage]
ffn.cl:3:1: remark:     ScratchSize [bytes/lane]: 84 [-Rpass-analysis=kernel-resource-usage]
ffn.cl:3:1: remark:     Occupancy [waves/SIMD]: 2 [-Rpass-analysis=kernel-resource-usage]
ffn.cl:3:1: remark:     SGPRs Spill: 1 [-Rpass-analysis=kernel-resource-usage]
ffn.cl:3:1: remark:     VGPRs Spill: 5 [-Rpass-analysis=kernel-resource-usage]
ffn.cl:3:1: remark:     LDS Size [bytes/block]: 0 [-Rpass-analysis=kernel-resource-usage]
`

func TestParseAMDRemarks(t *testing.T) {
	got, err := ParseAMDRemarks(amdOutput)
	require.NoError(t, err)
	require.Equal(t, []Usage{
		{Kernel: "flash_attention", Registers: 131, SGPRs: 73, LocalMem: 38916, Occupancy: 3},
		{Kernel: "ffn_fused", Registers: 256, SGPRs: 40, StackFrame: 84, Spills: 6, Occupancy: 2},
	}, got)
	_, err = ParseAMDRemarks("error: unknown target")
	require.Error(t, err)
}

func TestH100Occupancy(t *testing.T) {
	for _, c := range []struct {
		name                     string
		registers, shared, group int
		wantWarps                int
		wantLimiter              string
	}{
		// flash.cl at the H100 defaults: 256 work-items, 107 registers (112 per
		// item after rounding: 3584 per warp, 8 warps a block -> 2 blocks), 38.9 KB.
		{"flash d=64", 107, 38916, 256, 16, "registers"},
		// gemm.cl 128x128/8x8: 256 work-items at 187 registers: 1 block.
		{"gemm 128x128", 187, 33280, 256, 8, "registers"},
		{"tiny kernel", 16, 0, 128, 64, "warps"},
		{"shared bound", 32, 100 << 10, 128, 8, "shared memory"},
		{"block bound", 8, 0, 32, 32, "blocks"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := H100.Occupancy(c.registers, c.shared, c.group)
			require.Equal(t, c.wantWarps, o.Warps)
			require.Equal(t, c.wantLimiter, o.Limiter)
		})
	}
	require.InDelta(t, 25.0, Occupancy{Warps: 16}.Percent(H100), 1e-9)
}

// sassLoop is a cut of cuobjdump -sass: an outer loop holding an inner one.
const sassLoop = `
        /*0100*/                   MOV R1, R2 ;
        /*0110*/                   LDS R4, [R3] ;
        /*0120*/                   FFMA R5, R4, R4, R5 ;
        /*0130*/                   FFMA R6, R4, R4, R6 ;
        /*0140*/                   IADD3 R3, R3, 0x4, RZ ;
        /*0150*/              @!P0 BRA 0x110 ;
        /*0160*/                   FADD R7, R5, R6 ;
        /*0170*/                   NOP ;
        /*0180*/               @P1 BRA 0x100 ;
        /*0190*/                   EXIT ;
`

func TestHottestLoop(t *testing.T) {
	mix, ok := HottestLoop(sassLoop)
	require.True(t, ok)
	require.Equal(t, LoopMix{Instructions: 5, FFMA: 2}, mix)
	require.InDelta(t, 40.0, mix.Share(), 1e-9)
	_, ok = HottestLoop("        /*0000*/                   EXIT ;\n")
	require.False(t, ok)
}

func TestFindToolsNamesWhatIsMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := FindTools(t.TempDir())
	require.Error(t, err)
	for _, want := range []string{"clang-15 (apt-get install clang-15)", "ptxas (in Debian's non-free", "cuobjdump"} {
		require.Contains(t, err.Error(), want)
	}
}
