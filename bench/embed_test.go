package bench

import (
	"fmt"
	"testing"

	"github.com/clattn/clattn/cpuref"
	"github.com/stretchr/testify/require"
)

func TestEmbedCase(t *testing.T) {
	s := Shape{Batch: 2, Seq: 8, DModel: 16, Heads: 4, HeadDim: 4, DFF: 32, Layers: 3}
	c := Case{Op: OpEmbed, Shape: s}
	require.Equal(t, "embed/batch=2/seq=8/d_model=16/heads=4/d_ff=32/layers=3", c.Name())
	op, err := ParseOp("embed")
	require.NoError(t, err)
	require.Equal(t, OpEmbed, op)
	require.Equal(t, 3*Case{Op: OpEncoder, Shape: s}.FLOPs()+8*16*16, c.FLOPs(), "embed: the layers and the embeddings' LayerNorm")
	noLayers := s
	noLayers.Layers = 0
	require.ErrorContains(t, Case{Op: OpEmbed, Shape: noLayers}.Validate(), "layers")
	require.NoError(t, Case{Op: OpEmbed, Shape: MiniLM}.Validate())

	b := cpuref.New()
	defer b.Close()
	gemm := Case{Op: OpGemm, Shape: Shape{Batch: 2, Seq: 8, DModel: 16, DFF: 32}}
	r := Report{Device: b.Name()}
	for _, c := range []Case{gemm, c} {
		res, err := Run(b, c, Options{Reps: 2})
		require.NoError(t, err)
		r.Results = append(r.Results, res)
	}
	emb := r.Results[1]
	require.InDelta(t, 2/emb.MedianMs*1000, emb.SequencesPerS, 1e-9)
	lines := EmbedSummary(r)
	require.Len(t, lines, 1)
	require.Contains(t, lines[0], "sequences/s")
	require.Contains(t, lines[0], "of the SGEMM rate measured in this run")
	require.Contains(t, lines[0], gemm.Name())
	require.Greater(t, emb.CPUMs, 0.0, "getrusage works on the machines tests run on")
	require.Contains(t, lines[0], "per CPU-second")

	// A second, faster SGEMM run (gpubench times it before and after) is the bar.
	fast := r.Results[0]
	fast.GFLOPs, fast.CPUMs = 4*fast.GFLOPs, fast.CPUMs/4
	r.Results = append(r.Results, fast)
	lines = EmbedSummary(r)
	require.Len(t, lines, 1)
	require.Contains(t, lines[0], fmt.Sprintf("%.0f%% of the SGEMM rate measured in this run (%.1f GFLOP/s", 100*emb.GFLOPs/fast.GFLOPs, fast.GFLOPs))
	require.Contains(t, lines[0], fmt.Sprintf("vs %.1f GFLOP", fast.FLOPs/fast.CPUMs/1e6))
}
