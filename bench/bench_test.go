package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/stretchr/testify/require"
)

func TestFLOPModels(t *testing.T) {
	s := Shape{Batch: 2, Seq: 8, DModel: 4, Heads: 2, HeadDim: 3, DFF: 5}
	require.Equal(t, 2.0*16*5*4, Case{Op: OpGemm, Shape: s}.FLOPs(), "gemm: 2 M N K")
	require.Equal(t, 4.0*2*2*8*8*3, Case{Op: OpAttention, Shape: s}.FLOPs(), "attention: 4 B H Sq Sk D")
	causal := s
	causal.Causal = true
	// Top-left causal keeps 1+2+...+8 = 36 of 64 scores.
	require.InDelta(t, 4.0*2*2*36*3, Case{Op: OpAttention, Shape: causal}.FLOPs(), 1e-9)
	require.Equal(t, 4.0*16*4*5, Case{Op: OpFFN, Shape: s}.FLOPs(), "ffn: two GEMMs")
	require.Equal(t, 4.0*(16*4+5*4+16*5), Case{Op: OpGemm, Shape: s}.Bytes())
}

func TestCaseValidateAndNames(t *testing.T) {
	require.Error(t, Case{Op: OpAttention, Shape: Shape{Batch: 1, Seq: 0, Heads: 1, HeadDim: 8}}.Validate())
	err := Case{Op: OpMHA, Shape: Shape{Batch: 1, Seq: 4, DModel: 10, Heads: 3}}.Validate()
	require.ErrorContains(t, err, "heads 3 do not divide d-model 10")
	c := Case{Op: OpAttention, Shape: Shape{Batch: 1, Seq: 512, Heads: 8, HeadDim: 64, Causal: true}}
	require.Equal(t, "attention/batch=1/seq=512/heads=8/head_dim=64/causal", c.Name())
	_, err = ParseOp("flash")
	require.ErrorContains(t, err, "unknown op")
	for _, name := range []string{"quick", "standard", "decoding", "long"} {
		cs, err := Suite(name)
		require.NoError(t, err)
		for _, c := range cs {
			require.NoError(t, c.Validate(), c.Name())
		}
	}
	_, err = Suite("huge")
	require.Error(t, err)
}

// TestRunAndReports times every op once on the cpu backend at a tiny shape and
// writes the report in every format.
func TestRunAndReports(t *testing.T) {
	b := cpuref.New()
	defer b.Close()
	s := Shape{Batch: 1, Seq: 16, DModel: 32, Heads: 2, HeadDim: 16, DFF: 64, Causal: true}
	r := Report{Device: b.Name()}
	for _, op := range Ops {
		res, err := Run(b, Case{Op: op, Shape: s}, Options{Warmup: 1, Reps: 3})
		require.NoError(t, err, op)
		require.Greater(t, res.MedianMs, 0.0, op)
		require.LessOrEqual(t, res.MinMs, res.MedianMs)
		require.LessOrEqual(t, res.MedianMs, res.MaxMs)
		require.Greater(t, res.GFLOPs, 0.0, op)
		r.Results = append(r.Results, res)
	}
	var table, js, csv bytes.Buffer
	require.NoError(t, WriteTable(&table, r))
	require.Contains(t, table.String(), "attention")
	require.NoError(t, WriteJSON(&js, r))
	var back Report
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	require.Equal(t, r.Results, back.Results)
	require.NoError(t, WriteCSV(&csv, r))
	require.Equal(t, len(Ops)+1, strings.Count(csv.String(), "\n"))
	png := filepath.Join(t.TempDir(), "plot.png")
	require.NoError(t, Plot(png, r))
	st, err := os.Stat(png)
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(1000))
}

// TestDecodeCase checks the sizes of a grouped-query decode step with f16 K/V:
// its K/V bytes, that its GB/s counts them, and its bandwidth percentage.
func TestDecodeCase(t *testing.T) {
	c := Case{Op: OpDecode, Shape: Shape{Batch: 2, Seq: 1, SeqKV: 300, Heads: 8, HeadsKV: 2, HeadDim: 16, KVDType: "f16"}}
	require.NoError(t, c.Validate())
	require.Equal(t, "decode/batch=2/seq=1/seq_kv=300/heads=8/heads_kv=2/head_dim=16/kv=f16", c.Name())
	require.Equal(t, 2.0*2*2*300*16*2, c.KVBytes(), "K and V, 2 bytes a half, shared by the group")
	require.Equal(t, c.KVBytes(), c.Bytes())
	require.Equal(t, 4.0*2*8*1*300*16, c.FLOPs())
	b := cpuref.New()
	defer b.Close()
	r, err := Run(b, c, Options{Reps: 3})
	require.NoError(t, err)
	require.InDelta(t, c.KVBytes()/r.MedianMs/1e6, r.GBps, r.GBps*1e-9)
	require.Equal(t, c.KVBytes(), r.KVBytes)
	require.Equal(t, 16, streamCopies(c), "copies up to 16 to stream K/V from memory")
	report := Report{Device: "cpu", Results: []Result{r, {Op: OpAttention, GBps: 5}}}
	report.JudgeBandwidth(10)
	require.InDelta(t, 10*r.GBps, report.Results[0].BandwidthPct, r.GBps*1e-9)
	require.Zero(t, report.Results[1].BandwidthPct, "only decode rows are judged by bandwidth")
	var table bytes.Buffer
	require.NoError(t, WriteTable(&table, report))
	require.Contains(t, table.String(), "memory: 10.0 GB/s read")
	require.Contains(t, table.String(), "% bw")

	prefill := Case{Op: OpAttention, Shape: Shape{Batch: 1, Seq: 8, Heads: 4, HeadsKV: 2, HeadDim: 8}}
	require.Equal(t, 2.0*1*2*8*8*4, prefill.KVBytes())
	for _, bad := range []Shape{
		{Batch: 1, Seq: 1, Heads: 6, HeadsKV: 4, HeadDim: 8},
		{Batch: 1, Seq: 1, Heads: 4, HeadDim: 8, KVDType: "bf16"},
		{Batch: 1, Seq: 1, Heads: 4, HeadDim: 8, KVDType: "f8"},
	} {
		require.Error(t, Case{Op: OpDecode, Shape: bad}.Validate(), "%+v", bad)
	}
	require.ErrorContains(t, Case{Op: OpScores, Shape: Shape{Batch: 1, Seq: 1, Heads: 4, HeadsKV: 2, HeadDim: 8}}.Validate(),
		"heads-kv and kv-dtype are for the attention and decode ops")
}

// TestRunKernels checks Options.Kernels: on an OpenCL device each (operation,
// kernel) gets its launches per run, its median device time and its share;
// the shares sum to 100 and survive the JSON report; the table lists them;
// a backend without per-kernel times is refused.
func TestRunKernels(t *testing.T) {
	d := gputest.Device(t)
	c := Case{Op: OpFFN, Shape: Shape{Batch: 1, Seq: 9, DModel: 16, DFF: 32}}
	r, err := Run(d, c, Options{Reps: 3, Kernels: true})
	require.NoError(t, err)
	require.NotEmpty(t, r.Kernels)
	var pct float64
	for i, k := range r.Kernels {
		require.Equal(t, "FeedForward", k.Op, "%+v", k)
		require.NotEmpty(t, k.Kernel)
		require.GreaterOrEqual(t, k.Launches, 1, "%+v", k)
		require.Greater(t, k.Ms, 0.0, "%+v", k)
		if i > 0 {
			require.LessOrEqual(t, k.Ms, r.Kernels[i-1].Ms, "the most time first")
		}
		pct += k.Pct
	}
	require.InDelta(t, 100, pct, 1e-9)
	report := Report{Device: d.Name(), Results: []Result{r}}
	var table, js bytes.Buffer
	require.NoError(t, WriteTable(&table, report))
	require.Contains(t, table.String(), "kernels of ffn ")
	require.Contains(t, table.String(), r.Kernels[0].Kernel)
	require.NoError(t, WriteJSON(&js, report))
	back, err := ReadReport(bytes.NewReader(js.Bytes()))
	require.NoError(t, err)
	require.Equal(t, r.Kernels, back.Results[0].Kernels)
	bad := report
	bad.Results = []Result{r}
	bad.Results[0].Kernels = []KernelShare{{Op: "Gemm", Kernel: "gemm", Launches: 1, Ms: -1}}
	js.Reset()
	require.NoError(t, WriteJSON(&js, bad))
	_, err = ReadReport(bytes.NewReader(js.Bytes()))
	require.ErrorContains(t, err, "kernel entry")

	cpu := cpuref.New()
	defer cpu.Close()
	_, err = Run(cpu, c, Options{Reps: 1, Kernels: true})
	require.ErrorIs(t, err, backend.ErrArgument)
}

// TestKernelTally checks the per-run medians: a kernel launched twice a run
// adds both launches, and one missing from some runs counts 0 there.
func TestKernelTally(t *testing.T) {
	tally := kernelTally{}
	for run := range 3 {
		each := tally.add(3)
		each("Gemm", "gemm", time.Millisecond)
		each("Gemm", "gemm", time.Duration(run+1)*time.Millisecond)
		if run == 0 {
			each("Softmax", "softmax", 8*time.Millisecond)
		}
	}
	got := tally.shares(3)
	require.Equal(t, []KernelShare{
		{Op: "Gemm", Kernel: "gemm", Launches: 2, Ms: 3, Pct: 100},
		{Op: "Softmax", Kernel: "softmax", Launches: 0, Ms: 0, Pct: 0},
	}, got)
	require.Nil(t, kernelTally{}.shares(3))
}

func TestRunRejectsBadCase(t *testing.T) {
	b := cpuref.New()
	defer b.Close()
	_, err := Run(b, Case{Op: OpGemm, Shape: Shape{Batch: 1, Seq: 4, DModel: -1, DFF: 4}}, Options{})
	require.Error(t, err)
}

// benchCases are the shapes of `go test -bench`: the quick suite's at seq 256,
// attention at seq 512 with 8 heads and the embed op at all-MiniLM-L6-v2's shapes.
func benchCases() []Case {
	s := Shape{Batch: 1, Seq: 256, DModel: 256, Heads: 4, HeadDim: 64, DFF: 1024}
	cs := make([]Case, 0, len(Ops)+1)
	for _, op := range Ops {
		cs = append(cs, Case{Op: op, Shape: s})
	}
	return append(cs, Case{Op: OpAttention, Shape: Shape{Batch: 1, Seq: 512, Heads: 8, HeadDim: 64}}, Case{Op: OpEmbed, Shape: MiniLM})
}

func benchmark(b *testing.B, be backend.Backend) {
	for _, c := range benchCases() {
		b.Run(c.Name(), func(b *testing.B) {
			w, err := prepare(be, c)
			if err != nil {
				b.Fatal(err)
			}
			defer w.release()
			finish := func() {
				if f, ok := be.(Finisher); ok {
					if err := f.Finish(); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := w.run(); err != nil { // warm-up: kernel builds, caches
				b.Fatal(err)
			}
			finish()
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				if err := w.run(); err != nil {
					b.Fatal(err)
				}
				finish() // each iteration waits for the device, as bench.Run does
			}
			elapsed := time.Since(start).Seconds()
			b.ReportMetric(c.FLOPs()*float64(b.N)/elapsed/1e9, "GFLOP/s")
			b.ReportMetric(c.Bytes()*float64(b.N)/elapsed/1e9, "GB/s")
		})
	}
}

// BenchmarkCPU measures the pure-Go backend: go test -bench CPU ./bench/
func BenchmarkCPU(b *testing.B) {
	be := cpuref.New()
	defer be.Close()
	benchmark(b, be)
}

// BenchmarkOpenCL measures the first OpenCL device: go test -bench OpenCL ./bench/
func BenchmarkOpenCL(b *testing.B) {
	benchmark(b, gputest.Device(b))
}

// TestCheckMemory refuses cases that no machine holds, or a device too small,
// before anything is allocated.
func TestCheckMemory(t *testing.T) {
	ok := Case{Op: OpAttention, Shape: Shape{Batch: 1, Seq: 64, Heads: 2, HeadDim: 8}}
	require.NoError(t, ok.CheckMemory(0))
	require.NoError(t, ok.CheckMemory(1<<20))
	require.ErrorIs(t, ok.CheckMemory(1000), backend.ErrTooLarge, "4 x 1024 floats in 1000 bytes")
	for _, c := range []Case{
		{Op: OpAttention, Shape: Shape{Batch: 1, Seq: 100_000_000, Heads: 8, HeadDim: 64}},
		{Op: OpSoftmax, Shape: Shape{Batch: 1, Seq: 100_000_000, Heads: 8, HeadDim: 64}}, // 8e16 scores
		{Op: OpScores, Shape: Shape{Batch: 1, Seq: 1 << 40, Heads: 1, HeadDim: 1}},
		{Op: OpGemm, Shape: Shape{Batch: 1, Seq: 1 << 20, DModel: 1 << 20, DFF: 1}},
	} {
		require.ErrorIs(t, c.CheckMemory(0), backend.ErrTooLarge, c.Name())
		_, err := Run(cpuref.New(), c, Options{})
		require.ErrorIs(t, err, backend.ErrTooLarge, c.Name())
	}
}

// TestDecoderStepCase checks the bytes of one token through a Llama block
// (bfloat16 weights, f16 K/V), that its GB/s and bandwidth percentage count
// them, that it runs at a small shape on cpu, and how many copies of the block
// its runs take turns over.
func TestDecoderStepCase(t *testing.T) {
	s := Shape{Batch: 1, Seq: 1, SeqKV: 40, DModel: 32, Heads: 4, HeadsKV: 2, HeadDim: 8, DFF: 48, KVDType: "f16"}
	c := Case{Op: OpDecoderStep, Shape: s}
	require.NoError(t, c.Validate())
	require.Equal(t, "decoder-step/batch=1/seq=1/seq_kv=40/d_model=32/heads=4/heads_kv=2/head_dim=8/d_ff=48/kv=f16", c.Name())
	weights := 2.0*(32*(4+2*2)*8+4*8*32+3*32*48) + 4*2*32 // bf16 matrices, f32 norms
	require.Equal(t, weights, c.WeightBytes())
	require.Equal(t, 2.0*1*2*40*8*2, c.KVBytes())
	require.Equal(t, c.WeightBytes()+c.KVBytes(), c.Bytes())
	b := cpuref.New()
	defer b.Close()
	r, err := Run(b, c, Options{Reps: 3})
	require.NoError(t, err)
	require.InDelta(t, c.Bytes()/r.MedianMs/1e6, r.GBps, r.GBps*1e-9)
	report := Report{Results: []Result{r}}
	report.JudgeBandwidth(10)
	require.InDelta(t, 10*r.GBps, report.Results[0].BandwidthPct, r.GBps*1e-9)
	for _, bad := range []Shape{
		{Batch: 1, Seq: 2, SeqKV: 1, DModel: 32, Heads: 4, HeadDim: 8, DFF: 48},
		{Batch: 1, Seq: 1, SeqKV: 8, DModel: 32, Heads: 6, HeadsKV: 4, HeadDim: 8, DFF: 48},
		{Batch: 1, Seq: 1, SeqKV: 8, DModel: 32, Heads: 4, HeadDim: 7, DFF: 48},
		{Batch: 1, Seq: 1, SeqKV: 8, DModel: 32, Heads: 4, HeadDim: 8, DFF: 48, KVDType: "bf16"},
		{Batch: 1, Seq: 1, SeqKV: 8, Heads: 4, HeadDim: 8, DFF: 48},
	} {
		require.Error(t, Case{Op: OpDecoderStep, Shape: bad}.Validate(), "%+v", bad)
	}
	require.Equal(t, Shape{Batch: 1, Seq: 1, SeqKV: 4096, DModel: 2048, Heads: 32, HeadsKV: 8, HeadDim: 64, DFF: 8192, KVDType: "f16"}, Llama32Step(4096))
	require.Equal(t, 16, streamCopies(c), "a small block: as many copies as allowed")
	require.Equal(t, 9, streamCopies(Case{Op: OpDecoderStep, Shape: Llama32Step(4096)}),
		"Llama-3.2-1B's block and 4k cache (129 MB) nine times: past 1 GiB, beyond the last-level cache")
}
