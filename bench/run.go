package bench

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/clattn/clattn/backend"
)

// KernelTimer is implemented by backends that can report device time from
// profiling events (package gpu): fn's launches are timed on the device.
type KernelTimer interface {
	KernelTime(fn func() error) (time.Duration, error)
}

// KernelProfiler is implemented by backends that can also tell each kernel's
// device time (package gpu): each is called with every launch's backend
// operation, kernel name and device time.
type KernelProfiler interface {
	KernelTimes(fn func() error, each func(op, kernel string, t time.Duration)) (time.Duration, error)
}

// Finisher is implemented by backends whose operations run asynchronously:
// Finish waits for every queued operation.
type Finisher interface {
	Finish() error
}

// Options control how each case is timed.
type Options struct {
	Warmup int // untimed runs first (compiles kernels, warms caches); default 1
	Reps   int // timed runs; the median is reported; default 5
	// PeakGFLOPs is the device's estimated fp32 peak; 0 leaves PeakPct out.
	PeakGFLOPs float64
	// DeviceMemory is the device's memory in bytes (0: unknown); a case whose
	// tensors do not fit in it, or in the machine's RAM, is refused before
	// anything is allocated.
	DeviceMemory int64
	// Kernels asks for each kernel's share of the device time
	// (Result.Kernels); the backend must be a KernelProfiler.
	Kernels bool
}

func (o Options) withDefaults() Options {
	if o.Warmup <= 0 {
		o.Warmup = 1
	}
	if o.Reps <= 0 {
		o.Reps = 5
	}
	return o
}

// Result is the timing of one case.
type Result struct {
	Op       Op      `json:"op"`
	Name     string  `json:"name"`
	Shape    Shape   `json:"shape"`
	MedianMs float64 `json:"median_ms"`
	MinMs    float64 `json:"min_ms"`
	MaxMs    float64 `json:"max_ms"`
	// DeviceMs is the median device time from OpenCL profiling events, where the backend has them.
	DeviceMs float64 `json:"device_ms,omitempty"`
	GFLOPs   float64 `json:"gflops"`
	GBps     float64 `json:"gbps"`
	PeakPct  float64 `json:"peak_pct,omitempty"`
	FLOPs    float64 `json:"flops"`
	Bytes    float64 `json:"bytes"`
	// CPUMs is the process's CPU time (every thread, user and system) per
	// timed run, on a host device: unlike wall time it does not grow when
	// other processes share the cores, so ratios of it hold on a busy machine.
	CPUMs float64 `json:"cpu_ms,omitempty"`
	// SequencesPerS is rows embedded per second of median wall time, host
	// work included (OpEmbed).
	SequencesPerS float64 `json:"sequences_per_s,omitempty"`
	// KVBytes are the K/V bytes one run reads (attention and decode); for
	// decode, GBps is KVBytes per second and BandwidthPct is GBps as a
	// percentage of the report's MemoryGBps (Report.JudgeBandwidth).
	KVBytes      float64 `json:"kv_bytes,omitempty"`
	BandwidthPct float64 `json:"bandwidth_pct,omitempty"`
	// Kernels is where the device time goes (Options.Kernels): one entry per
	// backend operation and kernel, the most time first.
	Kernels []KernelShare `json:"kernels,omitempty"`
}

// KernelShare is one kernel's part of a case's device time, as launched by
// one backend operation.
type KernelShare struct {
	Op     string `json:"op"` // the backend operation: Gemm, Attention, ...
	Kernel string `json:"kernel"`
	// Launches is the kernel's launches per run.
	Launches int `json:"launches"`
	// Ms is the median over the timed runs of the kernel's device time in a run
	// (all its launches); Pct is Ms as a percentage of the kernels' Ms summed.
	Ms  float64 `json:"ms"`
	Pct float64 `json:"pct"`
}

// Run times one case on b: it uploads random inputs (fixed seed), runs the op
// Warmup times, then Reps times, and reports the median wall time (waiting for
// the device after each run) and, where b can tell, the median device time.
func Run(b backend.Backend, c Case, opt Options) (Result, error) {
	opt = opt.withDefaults()
	if err := c.Validate(); err != nil {
		return Result{}, err
	}
	if err := c.CheckMemory(opt.DeviceMemory); err != nil {
		return Result{}, err
	}
	w, err := prepare(b, c)
	if err != nil {
		return Result{}, fmt.Errorf("%s: prepare on %s: %w", c.Name(), b.Name(), err)
	}
	defer w.release()
	finish := func() error {
		if f, ok := b.(Finisher); ok {
			return f.Finish()
		}
		return nil
	}
	for range opt.Warmup {
		if err := w.run(); err != nil {
			return Result{}, fmt.Errorf("%s on %s: %w", c.Name(), b.Name(), err)
		}
	}
	if err := finish(); err != nil {
		return Result{}, err
	}
	// deviceTime runs the op once and returns its device time, where b has one.
	var deviceTime func() (time.Duration, error)
	kernels := kernelTally{}
	if timer, ok := b.(KernelTimer); ok {
		deviceTime = func() (time.Duration, error) { return timer.KernelTime(w.run) }
	}
	if opt.Kernels {
		profiler, ok := b.(KernelProfiler)
		if !ok {
			return Result{}, fmt.Errorf("%s on %s: %w: per-kernel times need an OpenCL device", c.Name(), b.Name(), backend.ErrArgument)
		}
		deviceTime = func() (time.Duration, error) { return profiler.KernelTimes(w.run, kernels.add(opt.Reps)) }
	}
	walls := make([]float64, 0, opt.Reps)
	devs := make([]float64, 0, opt.Reps)
	cpu0 := processCPUTime()
	for range opt.Reps {
		start := time.Now()
		if deviceTime != nil {
			d, err := deviceTime()
			if err != nil {
				return Result{}, fmt.Errorf("%s on %s: %w", c.Name(), b.Name(), err)
			}
			devs = append(devs, ms(d))
		} else if err := w.run(); err != nil {
			return Result{}, fmt.Errorf("%s on %s: %w", c.Name(), b.Name(), err)
		}
		if err := finish(); err != nil {
			return Result{}, err
		}
		walls = append(walls, ms(time.Since(start)))
	}
	r := Result{Op: c.Op, Name: c.Name(), Shape: c.Shape, FLOPs: c.FLOPs(), Bytes: c.Bytes(), KVBytes: c.KVBytes()}

	if cpu := processCPUTime() - cpu0; cpu > 0 {
		r.CPUMs = ms(cpu) / float64(opt.Reps)
	}
	r.MedianMs, r.MinMs, r.MaxMs = median(walls), slices.Min(walls), slices.Max(walls)
	best := r.MedianMs
	if len(devs) > 0 {
		r.DeviceMs = median(devs)
		if r.DeviceMs > 0 {
			best = r.DeviceMs
		}
	}
	r.GFLOPs = r.FLOPs / best / 1e6
	r.GBps = r.Bytes / best / 1e6
	if opt.PeakGFLOPs > 0 {
		r.PeakPct = 100 * r.GFLOPs / opt.PeakGFLOPs
	}
	if c.Op == OpEmbed {
		r.SequencesPerS = float64(c.Shape.Batch) / r.MedianMs * 1000
	}
	r.Kernels = kernels.shares(opt.Reps)
	return r, nil
}

// kernelTally gathers each (operation, kernel)'s device time run by run.
type kernelTally map[opKernel]*kernelRuns

type opKernel struct{ op, kernel string }

type kernelRuns struct {
	launches int       // over all runs
	ms       []float64 // per run
}

// add returns the callback that records one run's launches: the next run of
// each kernel among reps runs.
func (t kernelTally) add(reps int) func(op, kernel string, d time.Duration) {
	seen := map[opKernel]bool{}
	return func(op, kernel string, d time.Duration) {
		key := opKernel{op, kernel}
		k := t[key]
		if k == nil {
			k = &kernelRuns{ms: make([]float64, 0, reps)}
			t[key] = k
		}
		if !seen[key] {
			seen[key] = true
			k.ms = append(k.ms, 0)
		}
		k.launches++
		k.ms[len(k.ms)-1] += ms(d)
	}
}

// shares are the kernels' medians per run over reps runs (a kernel absent
// from a run counts 0 there), the most time first.
func (t kernelTally) shares(reps int) []KernelShare {
	if len(t) == 0 {
		return nil
	}
	var out []KernelShare
	var total float64
	for key, k := range t {
		runs := append(k.ms, make([]float64, reps-len(k.ms))...)
		x := KernelShare{Op: key.op, Kernel: key.kernel, Launches: (k.launches + reps/2) / reps, Ms: median(runs)}
		total += x.Ms
		out = append(out, x)
	}
	for i := range out {
		if total > 0 {
			out[i].Pct = 100 * out[i].Ms / total
		}
	}
	slices.SortFunc(out, func(a, b KernelShare) int {
		if a.Ms != b.Ms {
			return cmp.Compare(b.Ms, a.Ms)
		}
		return cmp.Or(cmp.Compare(a.Op, b.Op), cmp.Compare(a.Kernel, b.Kernel))
	})
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// work is a prepared case: run executes the op once on uploaded inputs.
type work struct {
	run     func() error
	tensors []backend.Tensor
	closers []func() error
}

func (w *work) release() {
	for _, c := range w.closers {
		_ = c()
	}
	for _, t := range w.tensors {
		_ = t.Release()
	}
}

// inputs uploads random tensors and allocates outputs, remembering them for release.
type inputs struct {
	b   backend.Backend
	rng *rand.Rand
	w   *work
	err error
}

func (in *inputs) random(scale float32, shape ...int) backend.Tensor {
	if in.err != nil {
		return nil
	}
	data := make([]float32, backend.Shape(shape).Numel())
	for i := range data {
		data[i] = float32(in.rng.NormFloat64()) * scale
	}
	t, err := in.b.Upload(data, shape...)
	return in.keep(t, err)
}

// randomAs is random for a tensor of dtype d.
func (in *inputs) randomAs(d backend.DType, scale float32, shape ...int) backend.Tensor {
	if in.err != nil {
		return nil
	}
	data := make([]float32, backend.Shape(shape).Numel())
	for i := range data {
		data[i] = float32(in.rng.NormFloat64()) * scale
	}
	t, err := in.b.UploadAs(d, data, shape...)
	return in.keep(t, err)
}

// copies returns n copies of t in t's dtype, uploaded from one download of it
// (one staging buffer for all, not one per copy, and so no copy made in the
// memory of the last one's buffer).
func (in *inputs) copies(t backend.Tensor, n int) []backend.Tensor {
	if in.err != nil || n <= 0 {
		return nil
	}
	data := make([]float32, t.Shape().Numel())
	if err := in.b.Download(data, t); err != nil {
		in.err = err
		return nil
	}
	out := make([]backend.Tensor, 0, n)
	for range n {
		c, err := in.b.UploadAs(t.DType(), data, t.Shape()...)
		if in.keep(c, err) == nil {
			return nil
		}
		out = append(out, c)
	}
	return out
}

func (in *inputs) alloc(shape ...int) backend.Tensor {
	if in.err != nil {
		return nil
	}
	t, err := in.b.Alloc(shape...)
	return in.keep(t, err)
}

func (in *inputs) keep(t backend.Tensor, err error) backend.Tensor {
	if err != nil {
		in.err = err
		return nil
	}
	in.w.tensors = append(in.w.tensors, t)
	return t
}

// streamCopies is the number of copies of its data a memory-bound case (decode:
// K/V; decoder-step: a block's weights and cache) cycles through, one per run:
// as many as fill BandwidthBytes (1 GiB, beyond any last-level cache; this
// machine's holds 260 MB, a Llama-3.2-1B block and its 4k cache 129 MB), at
// most 16.
func streamCopies(c Case) int {
	return max(1, min(16, int(math.Ceil(BandwidthBytes/c.Bytes()))))
}

func prepare(b backend.Backend, c Case) (*work, error) {
	w := &work{}
	in := &inputs{b: b, rng: rand.New(rand.NewPCG(1, uint64(len(c.Name())))), w: w}
	s := c.Shape
	rows := s.Batch * s.Seq
	attnOpt := backend.AttentionOptions{}
	if s.Causal {
		attnOpt.Causal = backend.CausalTopLeft
	}
	if c.Op == OpDecode {
		attnOpt.Causal = backend.CausalBottomRight // the new rows come after the cache
	}
	heads := func() (q, k, v, out backend.Heads, err error) {
		qt := in.random(1, s.Batch, s.Heads, s.Seq, s.HeadDim)
		kt := in.randomAs(s.KVType(), 1, s.Batch, s.KVHeads(), s.KV(), s.HeadDim)
		vt := in.randomAs(s.KVType(), 1, s.Batch, s.KVHeads(), s.KV(), s.HeadDim)
		ot := in.alloc(s.Batch, s.Heads, s.Seq, s.HeadDim)
		if in.err != nil {
			return q, k, v, out, in.err
		}
		views := make([]backend.Heads, 4)
		for i, t := range []backend.Tensor{qt, kt, vt, ot} {
			if views[i], err = backend.HeadsOf(t); err != nil {
				return q, k, v, out, err
			}
		}
		return views[0], views[1], views[2], views[3], nil
	}
	switch c.Op {
	case OpGemm:
		x := in.random(1, rows, s.DModel)
		wt := in.random(0.05, s.DFF, s.DModel)
		y := in.alloc(rows, s.DFF)
		if in.err == nil {
			w.run = func() error {
				return b.Gemm(backend.MatOf(y), backend.MatOf(x), backend.MatOf(wt), backend.GemmOptions{TransB: true})
			}
		}
	case OpScores, OpUnfused, OpAttention, OpDecode:
		q, k, v, out, err := heads()
		if err != nil {
			in.err = err
			break
		}
		switch c.Op {
		case OpScores:
			scores := in.alloc(s.Batch, s.Heads, s.Seq, s.KV())
			w.run = func() error { return b.Scores(scores, q, k, 0) }
		case OpUnfused:
			scores := in.alloc(s.Batch, s.Heads, s.Seq, s.KV())
			w.run = func() error {
				if err := b.Scores(scores, q, k, 0); err != nil {
					return err
				}
				if err := b.Softmax(scores, scores, attnOpt); err != nil {
					return err
				}
				return b.AttendValues(out, scores, v)
			}
		case OpAttention:
			w.run = func() error { return b.Attention(out, q, k, v, attnOpt) }
		case OpDecode:
			// Runs take turns over copies of K/V that together exceed the
			// last-level cache, so that each step reads them from memory.
			ks, vs := []backend.Heads{k}, []backend.Heads{v}
			kc, vc := in.copies(k.T, streamCopies(c)-1), in.copies(v.T, streamCopies(c)-1)
			for i := range min(len(kc), len(vc)) {
				k.T, v.T = kc[i], vc[i]
				ks, vs = append(ks, k), append(vs, v)
			}
			next := 0
			w.run = func() error {
				i := next % len(ks)
				next++
				return b.Attention(out, q, ks[i], vs[i], attnOpt)
			}
		}
	case OpSoftmax:
		scores := in.random(1, s.Batch, s.Heads, s.Seq, s.KV())
		dst := in.alloc(s.Batch, s.Heads, s.Seq, s.KV())
		w.run = func() error { return b.Softmax(dst, scores, attnOpt) }
	case OpFFN:
		x := in.random(1, s.Batch, s.Seq, s.DModel)
		fw := backend.FFNWeights{
			W1: in.random(0.05, s.DFF, s.DModel), B1: in.random(0.05, s.DFF),
			W2: in.random(0.05, s.DModel, s.DFF), B2: in.random(0.05, s.DModel),
		}
		y := in.alloc(s.Batch, s.Seq, s.DModel)
		w.run = func() error {
			return b.FeedForward(y, x, fw, backend.FFNOptions{Activation: backend.ReLU, Residual: x})
		}
	case OpLayerNorm:
		x := in.random(1, s.Batch, s.Seq, s.DModel)
		r := in.random(1, s.Batch, s.Seq, s.DModel)
		g := in.random(1, s.DModel)
		be := in.random(1, s.DModel)
		y := in.alloc(s.Batch, s.Seq, s.DModel)
		w.run = func() error {
			return b.LayerNorm(y, x, backend.LayerNormOptions{Gamma: g, Beta: be, Residual: r})
		}
	case OpMHA, OpEncoder:
		in.err = prepareLayer(in, c)
	case OpEmbed:
		in.err = prepareEmbed(in, c)
	case OpDecoderStep:
		in.err = prepareDecoderStep(in, c)
	}
	if in.err != nil {
		w.release()
		return nil, in.err
	}
	return w, nil
}
