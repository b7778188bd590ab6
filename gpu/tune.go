package gpu

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/oracle"
	"github.com/clattn/clattn/internal/tolerance"
)

// TuneOptions configures Tune; zero fields take the defaults.
type TuneOptions struct {
	// Budget bounds the search (default 60 s): GEMM candidates start within
	// the first half, attention candidates within the whole. The shipped
	// default of each kernel is measured even when the budget is spent.
	Budget time.Duration
	// GemmSize is M = N = K of the timed product (default 1024).
	GemmSize int
	// Seq is the query and key length of the timed attention: 1 batch, 8
	// heads, head dim 64 (default 1024).
	Seq int
	// Reps is the number of timed runs of a candidate; the fastest counts
	// (default 3). A candidate whose first run takes over twice the best
	// time so far gets no more.
	Reps int
	// Gemm and Attention replace the candidates derived from the device; the
	// shipped default is tried first either way.
	Gemm      []GemmTiles
	Attention []AttentionTiles
	// Progress, where set, is called after each candidate tried.
	Progress func(TuneCandidate)
}

// Limits of the search.
const (
	minTuneGemmSize = 256
	minTuneSeq      = 128
	tuneHeads       = 8
	// tuneSlowShare: where one run of the default takes over Budget /
	// tuneSlowShare, the timed shape is halved (down to the minimum).
	tuneSlowShare = 40
	// tuneMargin is how much faster than the default a candidate must be to win.
	tuneMargin = 0.02
)

// TuneCandidate is the outcome of one candidate tiling.
type TuneCandidate struct {
	Kernel  string // "gemm" or "attention"
	Tiles   string // the tiling, as GemmTiles or AttentionTiles prints it
	Default bool   // the device's shipped tiling
	Shape   string // the timed shape: "MxNxK" (GEMM), "BxHxSxD" (attention)
	// Time is the device time of one run of the timed shape, GFLOPs its
	// rate; both 0 unless the candidate was timed.
	Time   time.Duration
	GFLOPs float64
	// Err says why the candidate was discarded: the device cannot hold it,
	// it failed to build or run, or it gave wrong results on the check shapes.
	Err error
	// Skipped marks a candidate not tried because the budget was spent.
	Skipped bool
}

// TuneResult is what Tune measured and chose.
type TuneResult struct {
	// Tuning holds the winners, now applied to the device: nil where the
	// shipped default won, so that a cached Tuning follows later defaults.
	Tuning Tuning
	// Gemm and Attention are the winners' measurements.
	Gemm, Attention TuneCandidate
	// GemmShape ("MxNxK") and AttentionShape ("BxHxSxD") are the timed shapes.
	GemmShape, AttentionShape string
	// Candidates lists every candidate in the order tried, skipped ones included.
	Candidates []TuneCandidate
}

// Tune searches tile sizes for GEMM and the fused attention kernel on d and
// applies the fastest (SetTuning); the default is kept unless the winner, timed
// again alternately with it, still beats it by over 2%. Each candidate is first run on small shapes with ragged edges
// and compared with a float64 reference (internal/tolerance): one that cannot
// be built, fails or gives wrong results is discarded. The others are timed
// with KernelTime on the timed shapes (see TuneOptions), which are halved on a
// device too slow to time several candidates within the budget. Run it while
// nothing else uses d: KernelTime counts every kernel of d.
func Tune(d *Device, opt TuneOptions) (TuneResult, error) {
	opt = opt.withDefaults()
	start := time.Now()
	tn := &tuner{d: d, opt: opt}

	gemms := tn.gemmCandidates()
	g, err := newGemmTarget(d, gemms, opt.GemmSize)
	if err != nil {
		return TuneResult{}, err
	}
	gi, err := tn.search("gemm", names(gemms), g, start.Add(opt.Budget/2))
	tn.res.GemmShape = g.shape()
	g.release()
	if err != nil {
		return tn.res, err
	}

	atts := tn.attentionCandidates()
	a, err := newAttentionTarget(d, atts, opt.Seq)
	if err != nil {
		return tn.res, err
	}
	ai, err := tn.search("attention", names(atts), a, start.Add(opt.Budget))
	tn.res.AttentionShape = a.shape()
	a.release()
	if err != nil {
		return tn.res, err
	}

	tn.res.Gemm, tn.res.Attention = tn.winner("gemm", gi), tn.winner("attention", ai)
	if gi > 0 {
		tn.res.Tuning.Gemm = &gemms[gi]
	}
	if ai > 0 {
		tn.res.Tuning.Attention = &atts[ai]
	}
	return tn.res, d.SetTuning(tn.res.Tuning)
}

func names[T fmt.Stringer](ts []T) []string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return s
}

func (o TuneOptions) withDefaults() TuneOptions {
	if o.Budget <= 0 {
		o.Budget = time.Minute
	}
	if o.GemmSize <= 0 {
		o.GemmSize = 1024
	}
	if o.Seq <= 0 {
		o.Seq = 1024
	}
	if o.Reps <= 0 {
		o.Reps = 3
	}
	return o
}

// tuner holds the state of one Tune.
type tuner struct {
	d   *Device
	opt TuneOptions
	res TuneResult
}

// tuneTarget is one kernel under tuning, its candidates numbered from 0 (the
// shipped default).
type tuneTarget interface {
	validate(i int) error  // whether the device can hold candidate i
	check(i int) error     // runs candidate i on the check shapes against float64
	run(i int) error       // queues one run of candidate i on the timed shape
	shrink() (bool, error) // halves the timed shape; false at its minimum
	flops() float64        // floating-point operations of one timed run
	shape() string         // the timed shape
	release()              // frees the tensors
}

// winner is the candidate of kernel numbered i.
func (tn *tuner) winner(kernel string, i int) TuneCandidate {
	for _, c := range tn.res.Candidates {
		if c.Kernel == kernel {
			if i == 0 {
				return c
			}
			i--
		}
	}
	return TuneCandidate{}
}

// search tries the candidates in order, those after the default only before
// deadline, records each in tn.res.Candidates and returns the number of the
// fastest correct one.
func (tn *tuner) search(kernel string, tiles []string, t tuneTarget, deadline time.Time) (int, error) {
	first := len(tn.res.Candidates)
	best, bestTime := -1, time.Duration(0)
	for i, tile := range tiles {
		c := TuneCandidate{Kernel: kernel, Tiles: tile, Default: i == 0}
		if i > 0 && time.Now().After(deadline) {
			c.Skipped = true
		} else {
			c.Err = t.validate(i)
			if c.Err == nil {
				c.Err = t.check(i)
			}
			if c.Err == nil {
				c.Time, c.Err = tn.time(t, i, bestTime)
			}
			for i == 0 && c.Err == nil && c.Time > tn.opt.Budget/tuneSlowShare {
				shrunk, err := t.shrink()
				if err != nil {
					return -1, err
				}
				if !shrunk {
					break
				}
				c.Time, c.Err = tn.time(t, i, 0)
			}
		}
		c.Shape = t.shape()
		if !c.Skipped && c.Err == nil {
			c.GFLOPs = t.flops() / c.Time.Seconds() / 1e9
			// The default wins ties within tuneMargin: timings vary by a few
			// percent, and an override should be worth caching.
			score := c.Time
			if i == 0 {
				score -= time.Duration(float64(score) * tuneMargin)
			}
			if best < 0 || score < bestTime {
				best, bestTime = i, score
			}
		}
		tn.res.Candidates = append(tn.res.Candidates, c)
		if !c.Skipped && tn.opt.Progress != nil {
			tn.opt.Progress(c)
		}
	}
	if best < 0 {
		var errs []error
		for _, c := range tn.res.Candidates {
			if c.Kernel == kernel && c.Err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", c.Tiles, c.Err))
			}
		}
		return -1, fmt.Errorf("gpu: %s: tune: no %s tiling ran correctly: %w", tn.d.name, kernel, errors.Join(errs...))
	}
	if def := &tn.res.Candidates[first]; best > 0 && def.Err == nil {
		return tn.confirm(t, def, &tn.res.Candidates[first+best], best)
	}
	return best, nil
}

// confirm times the default (candidate 0) and the winner (candidate i) again,
// alternately, since the load of the device may have changed during the
// search; each keeps its fastest run, and the winner must still beat the
// default by tuneMargin. It returns the number of the one that wins.
func (tn *tuner) confirm(t tuneTarget, def, win *TuneCandidate, i int) (int, error) {
	for range tn.opt.Reps {
		for _, c := range []struct {
			cand *TuneCandidate
			i    int
		}{{def, 0}, {win, i}} {
			dt, err := tn.d.KernelTime(func() error { return t.run(c.i) })
			if err != nil {
				return -1, err
			}
			c.cand.Time = max(min(c.cand.Time, dt), time.Nanosecond)
			c.cand.GFLOPs = t.flops() / c.cand.Time.Seconds() / 1e9
		}
	}
	if float64(win.Time) < float64(def.Time)*(1-tuneMargin) {
		return i, nil
	}
	return 0, nil
}

// time is the fastest of opt.Reps device times of candidate i, stopping after
// one run that takes over twice bestTime (when set).
func (tn *tuner) time(t tuneTarget, i int, bestTime time.Duration) (time.Duration, error) {
	var fastest time.Duration
	for r := range tn.opt.Reps {
		dt, err := tn.d.KernelTime(func() error { return t.run(i) })
		if err != nil {
			return 0, err
		}
		if r == 0 || dt < fastest {
			fastest = dt
		}
		if bestTime > 0 && dt > 2*bestTime {
			break
		}
	}
	return max(fastest, time.Nanosecond), nil
}

// gemmCandidates are the default GEMM tiling, then opt.Gemm or the tilings
// derived from the device: square tiles of 128, 64 and 32, TK of 16, 32 and 8,
// and the micro-tiles of the device class (8x4, 8x8 and 4x4 on GPUs, 8x32 and 8x16
// in 16-wide vectors on CPUs). Those the device cannot hold are left out.
func (tn *tuner) gemmCandidates() []GemmTiles {
	info := tn.d.info
	out := []GemmTiles{GemmTiles(tn.d.profile.gemm)}
	add := func(t GemmTiles) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if tn.opt.Gemm != nil {
		for _, t := range tn.opt.Gemm {
			add(t)
		}
		return out
	}
	micro, vec, unroll := [][2]int{{8, 4}, {8, 8}, {4, 4}}, 4, 0
	if tn.d.profile.CPUKernels {
		micro, vec, unroll = [][2]int{{8, 32}, {8, 16}}, 16, 2
	}
	for _, tile := range []int{128, 64, 32} {
		for _, tk := range []int{16, 32, 8} {
			for _, m := range micro {
				t := GemmTiles{TM: tile, TN: tile, TK: tk, WPTM: m[0], WPTN: m[1],
					VWN: min(vec, m[1]), LVW: min(vec, tk), Unroll: unroll}
				if t.validate(info) == nil {
					add(t)
				}
			}
		}
	}
	return out
}

// attentionCandidates are the default fused tiling, then opt.Attention or the
// tilings derived from the device: on a CPU device flash_cpu.cl with 4 to 16
// rows per work-item, 2 to 8 work-items and 64 to 256 keys per tile; elsewhere
// flash.cl with 32 to 128 query rows, 32 or 64 keys and 16x16 or 8x16
// work-items. Those the device cannot hold are left out.
func (tn *tuner) attentionCandidates() []AttentionTiles {
	info := tn.d.info
	out := []AttentionTiles{*defaultTuning(tn.d.profile, info).Attention}
	add := func(t AttentionTiles) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if tn.opt.Attention != nil {
		for _, t := range tn.opt.Attention {
			add(t)
		}
		return out
	}
	var derived []AttentionTiles
	if out[0].CPU {
		for _, kb := range []int{128, 64, 256} {
			for _, rw := range [][2]int{{8, 4}, {4, 4}, {8, 2}, {16, 2}, {4, 8}} {
				derived = append(derived, AttentionTiles{CPU: true, RB: rw[0], NW: rw[1], KB: kb})
			}
		}
	} else {
		for _, bm := range []int{64, 32, 128} {
			for _, bn := range []int{32, 64} {
				for _, items := range [][2]int{{16, 16}, {8, 16}} {
					derived = append(derived, AttentionTiles{BM: bm, BN: bn, TR: items[0], TC: items[1], LPad: 1})
				}
			}
		}
	}
	for _, t := range derived {
		if t.validate(info) == nil {
			add(t)
		}
	}
	return out
}

// tuneData is n values uniform in [-1, 1) from a fixed seed.
func tuneData(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, n)
	for i := range x {
		x[i] = 2*r.Float32() - 1
	}
	return x
}

// nanData is n NaNs: an output buffer whose every unwritten element fails a check.
func nanData(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.NaN())
	}
	return x
}

// tensors tracks what a target uploads, to release it all at once.
type tensors []backend.Tensor

func (ts *tensors) upload(d *Device, data []float32, shape ...int) (backend.Tensor, error) {
	t, err := d.Upload(data, shape...)
	if err == nil {
		*ts = append(*ts, t)
	}
	return t, err
}

func (ts *tensors) release() {
	for _, t := range *ts {
		_ = t.Release()
	}
	*ts = nil
}

// gemmCheck is one GEMM check shape with its inputs on the device and the
// float64 reference.
type gemmCheck struct {
	m, n, k int
	transB  bool
	a, b    backend.Tensor
	want    []float64
}

// gemmTarget tunes kernels/gemm.cl.
type gemmTarget struct {
	d      *Device
	tiles  []GemmTiles
	checks []gemmCheck
	size   int
	timed  tensors // a, b, c of the timed product
	held   tensors // the check inputs
}

func newGemmTarget(d *Device, tiles []GemmTiles, size int) (*gemmTarget, error) {
	g := &gemmTarget{d: d, tiles: tiles, size: size}
	// One aligned product (vector loads, partial tiles in every dimension)
	// and one ragged one with B transposed (scalar loads).
	for i, s := range []struct {
		m, n, k int
		transB  bool
	}{{160, 144, 96, false}, {75, 53, 41, true}} {
		a := tuneData(s.m*s.k, uint64(2*i+1))
		bRows, bCols := s.k, s.n
		if s.transB {
			bRows, bCols = s.n, s.k
		}
		b := tuneData(bRows*bCols, uint64(2*i+2))
		at, err := g.held.upload(d, a, s.m, s.k)
		if err != nil {
			g.release()
			return nil, err
		}
		bt, err := g.held.upload(d, b, bRows, bCols)
		if err != nil {
			g.release()
			return nil, err
		}
		g.checks = append(g.checks, gemmCheck{m: s.m, n: s.n, k: s.k, transB: s.transB, a: at, b: bt,
			want: gemmReference(s.m, s.n, s.k, s.transB, a, b)})
	}
	if err := g.allocTimed(); err != nil {
		g.release()
		return nil, err
	}
	return g, nil
}

// gemmReference is a*op(b) in float64 (internal/oracle) for row-major
// a [m, k] and b [k, n] (or [n, k] when transB).
func gemmReference(m, n, k int, transB bool, a, b []float32) []float64 {
	bRows, bCols := k, n
	if transB {
		bRows, bCols = n, k
	}
	ref, _ := (&oracle.Gemm{A: a, B: b, Batch: 1, M: m, N: n, K: k,
		AV:  backend.Mat{Batch: 1, Rows: m, Cols: k, RowStride: k},
		BV:  backend.Mat{Batch: 1, Rows: bRows, Cols: bCols, RowStride: bCols},
		Opt: backend.GemmOptions{TransB: transB}}).Run()
	return ref
}

func (g *gemmTarget) allocTimed() error {
	g.timed.release()
	n := g.size
	for i := range 3 {
		if _, err := g.timed.upload(g.d, tuneData(n*n, uint64(10+i)), n, n); err != nil {
			return err
		}
	}
	return nil
}

func (g *gemmTarget) validate(i int) error { return g.tiles[i].validate(g.d.info) }

func (g *gemmTarget) check(i int) error {
	for _, c := range g.checks {
		out, err := g.d.Upload(nanData(c.m*c.n), c.m, c.n)
		if err != nil {
			return err
		}
		got := make([]float32, c.m*c.n)
		err = g.launch(i, backend.MatOf(out), backend.MatOf(c.a), backend.MatOf(c.b), c.transB)
		if err == nil {
			err = g.d.Download(got, out)
		}
		_ = out.Release()
		if err != nil {
			return err
		}
		if r := tolerance.CheckRows(got, c.want, nil, c.n); !r.OK() {
			return fmt.Errorf("wrong results on %dx%dx%d: %v", c.m, c.n, c.k, r)
		}
	}
	return nil
}

func (g *gemmTarget) run(i int) error {
	t := g.timed
	return g.launch(i, backend.MatOf(t[2]), backend.MatOf(t[0]), backend.MatOf(t[1]), false)
}

// launch queues dst = a*op(b) tiled as candidate i.
func (g *gemmTarget) launch(i int, dst, a, b backend.Mat, transB bool) error {
	const op = "Tune"
	if err := g.d.enter(op); err != nil {
		return err
	}
	defer g.d.life.RUnlock()
	opt := backend.GemmOptions{TransB: transB}
	dims, err := backend.CheckGemm(dst, a, b, opt)
	if err != nil {
		return err
	}
	return g.d.launchGemm(op, gemmConfig(g.tiles[i]), dims, dst, a, b, opt)
}

func (g *gemmTarget) shrink() (bool, error) {
	if g.size/2 < minTuneGemmSize {
		return false, nil
	}
	g.size /= 2
	return true, g.allocTimed()
}

func (g *gemmTarget) flops() float64 { n := float64(g.size); return 2 * n * n * n }
func (g *gemmTarget) shape() string  { return fmt.Sprintf("%dx%dx%d", g.size, g.size, g.size) }
func (g *gemmTarget) release()       { g.timed.release(); g.held.release() }

// attentionCheck is one attention check shape with its inputs on the device
// and the float64 reference.
type attentionCheck struct {
	sq, sk  int
	causal  backend.CausalMode
	q, k, v backend.Tensor
	want    []float64
	scale   float64 // max |v|, the tolerance scale
}

// attentionTarget tunes the fused attention kernel.
type attentionTarget struct {
	d      *Device
	tiles  []AttentionTiles
	checks []attentionCheck
	seq    int
	timed  tensors // q, k, v, out of the timed call
	held   tensors
}

const tuneCheckHeads = 2

func newAttentionTarget(d *Device, tiles []AttentionTiles, seq int) (*attentionTarget, error) {
	a := &attentionTarget{d: d, tiles: tiles, seq: seq}
	const dim = tuningHeadDim
	// Sq and Sk off every tile size; bottom-right causal skips key tiles.
	for i, s := range []struct {
		sq, sk int
		causal backend.CausalMode
	}{{70, 90, backend.NotCausal}, {70, 90, backend.CausalBottomRight}} {
		q := tuneData(tuneCheckHeads*s.sq*dim, uint64(20+3*i))
		k := tuneData(tuneCheckHeads*s.sk*dim, uint64(21+3*i))
		v := tuneData(tuneCheckHeads*s.sk*dim, uint64(22+3*i))
		var ts [3]backend.Tensor
		for j, x := range [][]float32{q, k, v} {
			seqLen := s.sk
			if j == 0 {
				seqLen = s.sq
			}
			t, err := a.held.upload(d, x, 1, tuneCheckHeads, seqLen, dim)
			if err != nil {
				a.release()
				return nil, err
			}
			ts[j] = t
		}
		a.checks = append(a.checks, attentionCheck{sq: s.sq, sk: s.sk, causal: s.causal, q: ts[0], k: ts[1], v: ts[2],
			want: attentionReference(tuneCheckHeads, s.sq, s.sk, dim, s.causal, q, k, v), scale: tolerance.MaxAbs(v)})
	}
	if err := a.allocTimed(); err != nil {
		a.release()
		return nil, err
	}
	return a, nil
}

// attentionReference is softmax(q*k^T/sqrt(dim) + causal mask)*v in float64
// (internal/oracle) for [heads, seq, dim] inputs.
func attentionReference(heads, sq, sk, dim int, causal backend.CausalMode, q, k, v []float32) []float64 {
	ref, _, _ := (&oracle.Attention{B: 1, H: heads, Sq: sq, Sk: sk, Dk: dim, Dv: dim,
		Q: q, K: k, V: v, Causal: causal}).Run()
	return ref
}

func (a *attentionTarget) allocTimed() error {
	a.timed.release()
	n := tuneHeads * a.seq * tuningHeadDim
	for i := range 4 {
		if _, err := a.timed.upload(a.d, tuneData(n, uint64(30+i)), 1, tuneHeads, a.seq, tuningHeadDim); err != nil {
			return err
		}
	}
	return nil
}

func (a *attentionTarget) validate(i int) error { return a.tiles[i].validate(a.d.info) }

func (a *attentionTarget) check(i int) error {
	for _, c := range a.checks {
		n := tuneCheckHeads * c.sq * tuningHeadDim
		out, err := a.d.Upload(nanData(n), 1, tuneCheckHeads, c.sq, tuningHeadDim)
		if err != nil {
			return err
		}
		got := make([]float32, n)
		err = a.launch(i, out, c.q, c.k, c.v, c.causal)
		if err == nil {
			err = a.d.Download(got, out)
		}
		_ = out.Release()
		if err != nil {
			return err
		}
		if r := tolerance.Check(got, c.want, nil, c.scale); !r.OK() {
			kind := ""
			if c.causal != backend.NotCausal {
				kind = " causal"
			}
			return fmt.Errorf("wrong results on %d queries x %d keys%s: %v", c.sq, c.sk, kind, r)
		}
	}
	return nil
}

func (a *attentionTarget) run(i int) error {
	t := a.timed
	return a.launch(i, t[3], t[0], t[1], t[2], backend.NotCausal)
}

// launch queues the fused attention of candidate i on [1, H, S, D] tensors.
func (a *attentionTarget) launch(i int, out, q, k, v backend.Tensor, causal backend.CausalMode) error {
	const op = "Tune"
	if err := a.d.enter(op); err != nil {
		return err
	}
	defer a.d.life.RUnlock()
	var hs [4]backend.Heads
	for j, t := range []backend.Tensor{out, q, k, v} {
		h, err := backend.HeadsOf(t)
		if err != nil {
			return err
		}
		hs[j] = h
	}
	opt := backend.AttentionOptions{Causal: causal}
	dims, err := backend.CheckAttention(hs[0], hs[1], hs[2], hs[3], opt)
	if err != nil {
		return err
	}
	c := a.tiles[i].apply(a.d.profile.attention)
	return a.d.attentionWith(c, dims, hs[0], hs[1], hs[2], hs[3], opt)
}

func (a *attentionTarget) shrink() (bool, error) {
	if a.seq/2 < minTuneSeq {
		return false, nil
	}
	a.seq /= 2
	return true, a.allocTimed()
}

// flops counts the two products, 4*S*S*D per head.
func (a *attentionTarget) flops() float64 {
	s := float64(a.seq)
	return 4 * tuneHeads * s * s * tuningHeadDim
}

func (a *attentionTarget) shape() string {
	return fmt.Sprintf("1x%dx%dx%d", tuneHeads, a.seq, tuningHeadDim)
}

func (a *attentionTarget) release() { a.timed.release(); a.held.release() }
