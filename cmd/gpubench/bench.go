package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/clattn/clattn"
	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/bench"
	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/internal/outfile"
)

func init() {
	register("bench", "benchmark ops on a device: table, --json, --csv, --plot", cmdBench)
}

// devicePeak is the estimated fp32 peak of an OpenCL device, 0 for the cpu backend.
func devicePeak(b backend.Backend) (float64, string) {
	if d, ok := b.(*gpu.Device); ok {
		return peakGFLOPs(d.Info())
	}
	return 0, ""
}

// shapeFlags are the flags of bench that set the shape of --op.
var shapeFlags = map[string]bool{"batch": true, "seq": true, "seq-kv": true, "d-model": true, "heads": true,
	"head-dim": true, "d-ff": true, "causal": true, "layers": true,
	"heads-kv": true, "kv-dtype": true}

// deviceMemory is the global memory of an OpenCL device, 0 for the cpu
// backend (whose memory is the machine's RAM, which bench checks anyway).
func deviceMemory(b backend.Backend) int64 {
	if d, ok := b.(*gpu.Device); ok {
		return d.Info().GlobalMem
	}
	return 0
}

type benchFlags struct {
	device, suite, op         string
	shape                     bench.Shape
	reps, warmup              int
	jsonPath, csvPath, plotTo string
	quiet, kernels            bool
}

func cmdBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr, "[--suite quick|standard|decoding|long | --op OP [--seq N ...]] [--device D] [--json F] [--csv F] [--plot F.png]\n"+
		"  no --suite and no --op: the quick suite. The shape flags (--batch ... --causal) apply to --op only.")
	var f benchFlags
	fs.StringVar(&f.device, "device", "", "device spec (default $CLATTN_DEVICE or auto)")
	fs.StringVar(&f.suite, "suite", "", "named suite: quick (the default without --op), standard (the GPU target shapes), decoding (its GQA decode/prefill rows) or long")
	fs.StringVar(&f.op, "op", "", "one op: gemm, qkt, softmax, attention-unfused, attention, ffn, layernorm, mha, encoder, decode, decoder-step (one token through a Llama block, Llama-3.2-1B's shapes unless sizes are given), "+
		"embed (a BERT-family model end to end, all-MiniLM-L6-v2's shapes at 32 x 128 tokens unless sizes are given, beside SGEMM at its GEMM shape)")
	fs.IntVar(&f.shape.Batch, "batch", 1, "--op: batch size")
	fs.IntVar(&f.shape.Seq, "seq", 512, "--op: sequence length (query side); gemm: M = batch*seq; decode: query rows, 1 unless given")
	fs.IntVar(&f.shape.SeqKV, "seq-kv", 0, "--op: key/value sequence length (default: --seq)")
	fs.IntVar(&f.shape.DModel, "d-model", 512, "--op: model width; gemm: K")
	fs.IntVar(&f.shape.Heads, "heads", 8, "--op: attention heads")
	fs.IntVar(&f.shape.HeadDim, "head-dim", 64, "--op: head dimension of the attention ops (mha/encoder use d-model/heads)")
	fs.IntVar(&f.shape.HeadsKV, "heads-kv", 0, "--op: K/V heads of attention and decode (grouped-query; default --heads)")
	fs.StringVar(&f.shape.KVDType, "kv-dtype", "", "--op: K/V dtype of attention and decode: f32 (default) or f16")
	fs.IntVar(&f.shape.DFF, "d-ff", 2048, "--op: feed-forward width; gemm: N")
	fs.BoolVar(&f.shape.Causal, "causal", false, "--op: causal (top-left) mask for attention ops")
	fs.IntVar(&f.shape.Layers, "layers", 0, "--op embed: encoder layers (default 6)")
	fs.IntVar(&f.reps, "reps", 5, "timed runs per case (the median is reported)")
	fs.IntVar(&f.warmup, "warmup", 1, "untimed runs per case before timing")
	fs.StringVar(&f.jsonPath, "json", "", "write the results as JSON to this file")
	fs.StringVar(&f.csvPath, "csv", "", "write the results as CSV to this file")
	fs.StringVar(&f.plotTo, "plot", "", "draw GFLOP/s against sequence length into this PNG/SVG/PDF")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress on stderr (a line rewritten on a terminal, else a line per case)")
	fs.BoolVar(&f.kernels, "kernels", false, "OpenCL: also print (and write to --json) each case's kernels: launches per run and device time, median over the runs")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected argument %q", fs.Arg(0))
	}
	if f.op == "" {
		var shapeFlag string
		fs.Visit(func(fl *flag.Flag) {
			if shapeFlags[fl.Name] && shapeFlag == "" {
				shapeFlag = fl.Name
			}
		})
		if shapeFlag != "" {
			return usageErrorf(fs, "--%s sets the shape of --op; a suite has its own shapes (give --op OP)", shapeFlag)
		}
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if f.op == string(bench.OpDecode) && !set["seq"] {
		f.shape.Seq = 1 // one new token
	}
	if f.op == string(bench.OpDecoderStep) {
		useDecoderStepDefaults(&f.shape, set)
	}
	if f.shape.KVDType == "f32" || f.shape.KVDType == "float32" {
		f.shape.KVDType = "" // the default, named as such in reports
	}
	if f.op == string(bench.OpEmbed) {
		f.shape = embedShape(fs, f.shape)
	}
	switch {
	case f.reps < 1:
		return usageErrorf(fs, "--reps %d: want >= 1", f.reps)
	case f.warmup < 1: // bench.Options counts 0 as the default
		return usageErrorf(fs, "--warmup %d: want >= 1", f.warmup)
	case f.shape.SeqKV < 0:
		return usageErrorf(fs, "--seq-kv %d: want >= 1 (or 0 for --seq)", f.shape.SeqKV)
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"batch", f.shape.Batch}, {"seq", f.shape.Seq}, {"d-model", f.shape.DModel}, {"heads", f.shape.Heads},
		{"head-dim", f.shape.HeadDim}, {"d-ff", f.shape.DFF}} {
		if v.n < 1 {
			return usageErrorf(fs, "--%s %d: want >= 1", v.name, v.n)
		}
	}
	cases, err := benchCases(f)
	if err != nil {
		return usageErrorf(fs, "%v", err)
	}
	if err := checkBenchFiles(fs, f.jsonPath, f.csvPath, f.plotTo); err != nil {
		return err
	}
	b, err := clattn.Open(f.device)
	if err != nil {
		return err
	}
	defer b.Close()
	if _, ok := b.(bench.KernelProfiler); f.kernels && !ok {
		return fmt.Errorf("--kernels: %s has no per-kernel device times (OpenCL devices have)", b.Name())
	}
	memory := deviceMemory(b)
	for _, c := range cases { // every case before the first runs
		if err := c.CheckMemory(memory); err != nil {
			return err
		}
	}
	var progress *bench.Progress
	if !f.quiet {
		progress = &bench.Progress{W: stderr, Total: len(cases), Lines: !isTerminal(stderr)}
	}
	report, err := runBench(b, cases, bench.Options{Reps: f.reps, Warmup: f.warmup, DeviceMemory: memory, Kernels: f.kernels}, progress)
	if err != nil {
		return err
	}
	if err := bench.WriteTable(stdout, report); err != nil {
		return err
	}
	for _, line := range bench.EmbedSummary(report) {
		fmt.Fprintln(stdout, line)
	}
	return writeBenchFiles(report, f.jsonPath, f.csvPath, f.plotTo)
}

// useDecoderStepDefaults gives the decoder-step op Llama-3.2-1B's shapes (one
// new token, f16 K/V, a 4096-token context) where the command line does not set them.
func useDecoderStepDefaults(s *bench.Shape, set map[string]bool) {
	def := bench.Llama32Step(4096)
	for _, f := range []struct {
		flag     string
		dst, def *int
	}{{"seq", &s.Seq, &def.Seq}, {"seq-kv", &s.SeqKV, &def.SeqKV}, {"d-model", &s.DModel, &def.DModel},
		{"heads", &s.Heads, &def.Heads}, {"heads-kv", &s.HeadsKV, &def.HeadsKV}, {"head-dim", &s.HeadDim, &def.HeadDim},
		{"d-ff", &s.DFF, &def.DFF}} {
		if !set[f.flag] {
			*f.dst = *f.def
		}
	}
	if !set["kv-dtype"] {
		s.KVDType = def.KVDType
	}
}

func benchCases(f benchFlags) ([]bench.Case, error) {
	if f.suite != "" && f.op != "" {
		return nil, fmt.Errorf("give --suite or --op, not both")
	}
	if f.op == "" {
		name := f.suite
		if name == "" {
			name = "quick"
		}
		return bench.Suite(name)
	}
	op, err := bench.ParseOp(f.op)
	if err != nil {
		return nil, err
	}
	c := bench.Case{Op: op, Shape: f.shape}
	if op == bench.OpMHA || op == bench.OpEncoder || op == bench.OpEmbed {
		if f.shape.Heads > 0 {
			c.Shape.HeadDim = f.shape.DModel / f.shape.Heads
		}
	}
	if op == bench.OpEmbed { // the SGEMM rate at the model's GEMM shape, measured before and after in the same run
		s := c.Shape
		gemm := bench.Case{Op: bench.OpGemm, Shape: bench.Shape{Batch: s.Batch, Seq: s.Seq, DModel: s.DModel, DFF: s.DFF}}
		return []bench.Case{gemm, c, gemm}, c.Validate()
	}
	if f.shape.Layers != 0 {
		return nil, fmt.Errorf("--layers applies to --op embed only")
	}
	return []bench.Case{c}, c.Validate()
}

// runBench times every case on b and gathers the report.
func runBench(b backend.Backend, cases []bench.Case, opt bench.Options, progress *bench.Progress) (bench.Report, error) {
	report := bench.Report{Device: b.Name(), Date: time.Now().UTC().Format(time.RFC3339)}
	report.PeakGFLOPs, report.PeakHow = devicePeak(b)
	opt.PeakGFLOPs = report.PeakGFLOPs
	// Decode rows are judged against the read bandwidth, measured before and
	// after the cases: the larger is what the device gave this run.
	decoding := slices.ContainsFunc(cases, func(c bench.Case) bool { return c.Op == bench.OpDecode || c.Op == bench.OpDecoderStep })
	var memory float64
	measure := func() error {
		gbps, err := bench.MeasureBandwidth(b)
		if err != nil {
			return fmt.Errorf("measuring the read bandwidth of %s: %w", b.Name(), err)
		}
		memory = max(memory, gbps)
		return nil
	}
	if decoding {
		if err := measure(); err != nil {
			return report, err
		}
	}
	for _, c := range cases {
		progress.Step(c.Name())
		r, err := bench.Run(b, c, opt)
		if err != nil {
			progress.Done()
			return report, err
		}
		report.Results = append(report.Results, r)
	}
	progress.Done()
	if decoding {
		if err := measure(); err != nil {
			return report, err
		}
		report.JudgeBandwidth(memory)
	}
	report.PeakRSSMiB = peakRSSMiB()
	return report, nil
}

// checkBenchFiles rejects output paths that cannot be written before the
// benchmark runs: a bad plot extension is a usage error.
func checkBenchFiles(fs *flag.FlagSet, jsonPath, csvPath, plotTo string) error {
	if plotTo != "" {
		if _, err := bench.PlotFormat(plotTo); err != nil {
			return usageErrorf(fs, "--plot: %v", err)
		}
	}
	for _, path := range []string{jsonPath, csvPath, plotTo} {
		if err := checkOutput(path); err != nil {
			return err
		}
	}
	return nil
}

// writeBenchFiles writes the report's JSON, CSV and plot where asked, each
// through a temporary file renamed into place (package internal/outfile).
func writeBenchFiles(r bench.Report, jsonPath, csvPath, plotTo string) error {
	write := func(path string, fn func(io.Writer, bench.Report) error) error {
		if path == "" {
			return nil
		}
		return outfile.WriteFile(path, func(w io.Writer) error { return fn(w, r) })
	}
	if err := write(jsonPath, bench.WriteJSON); err != nil {
		return err
	}
	if err := write(csvPath, bench.WriteCSV); err != nil {
		return err
	}
	if plotTo != "" {
		return bench.Plot(plotTo, r)
	}
	return nil
}

// isTerminal reports whether w is a character device (a terminal), where a progress line helps.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
