package gpu

import (
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/stretchr/testify/require"
)

// TestNVIDIAConfigsFit checks that every tiling an H100 gets fits what NVIDIA's
// OpenCL allows: work-groups of at most 1024 work-items (1024 x 1024 x 64) and
// 48 KB of local memory, for every head dim up to 128 and the GEMMs of
// `gpubench bench --suite standard`.
func TestNVIDIAConfigsFit(t *testing.T) {
	info := H100
	fitsGroup := func(what string, x, y int) {
		t.Helper()
		require.NoError(t, fitsWorkGroup(info, x, y), what)
	}

	g := ProfileOf(info).gemm
	require.Equal(t, gemmConfigNVIDIA, g)
	for _, c := range []gemmConfig{g, gemmConfigGeneric} {
		require.NoError(t, c.valid())
		require.True(t, c.fits(info), "%+v", c)
		x, y := c.localSize()
		fitsGroup("gemm", x, y)
		require.LessOrEqual(t, int64(c.localBytes()), info.LocalMem, "%+v", c)
	}
	// The standard suite's GEMMs (4096^3; the encoder's projections and FFN at
	// 8 x 512 rows) give all 132 SMs work-groups of 128 x 128 tiles.
	for _, dims := range []backend.GemmDims{
		{Batch: 1, M: 4096, N: 4096, K: 4096}, {Batch: 1, M: 4096, N: 1024, K: 1024},
		{Batch: 1, M: 4096, N: 4096, K: 1024}, {Batch: 1, M: 4096, N: 1024, K: 4096},
	} {
		require.Equal(t, gemmConfigNVIDIA, gemmConfigSized(g, ProfileOf(info), info, dims), "%+v", dims)
	}
	require.Equal(t, gemmConfigGeneric, gemmConfigSized(g, ProfileOf(info), info, backend.GemmDims{Batch: 1, M: 50, N: 64, K: 64}))

	a := ProfileOf(info).attention
	require.Equal(t, attentionConfigNVIDIA, a)
	fitsGroup("attn_bmm", a.TN/a.RN, a.TM/a.RM)
	require.LessOrEqual(t, int64(4*a.TK*(a.TM+a.LPad+a.TN+a.LPad)+8), info.LocalMem)
	require.LessOrEqual(t, a.SoftmaxGroup, info.MaxWorkGroupSize)
	for dk := 1; dk <= 128; dk++ {
		for _, dv := range []int{dk, 1, 64, 128} {
			c, err := a.fitted(info, dk, dv)
			require.NoError(t, err, "head dims %d, %d", dk, dv)
			fitsGroup("flash_attention", c.TC, c.TR)
			require.Zero(t, c.BM%c.TR, "%+v", c)
			require.Zero(t, c.BN%c.TC, "%+v", c)
			need := flashLocalBytes(c.BM, c.BN, c.TC, c.LPad, padHeadDim(dk, false), padHeadDim(dv, false))
			require.LessOrEqual(t, need, info.LocalMem, "head dims %d, %d: %+v", dk, dv, c)
		}
	}
	// Head dim 64 keeps the shipped tiles; 128 shrinks them (see bench/README.md).
	c64, err := a.fitted(info, 64, 64)
	require.NoError(t, err)
	require.Equal(t, attentionConfigNVIDIA, c64)

	def := DefaultTuning(info)
	require.NoError(t, def.Validate(info))
	require.Equal(t, GemmTiles(gemmConfigNVIDIA), *def.Gemm)
}
