package golden

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/tolerance"
	"github.com/clattn/clattn/model"
)

// The decoder-only kinds: rope, rmsnorm and llama.

// rope rotates x [B, H, S, D] by backend.Rotary with the case's style, theta,
// rotary_dim and offset, or its positions [B, S]; with a rope_scaling, the
// scaled frequencies of theta go to Rotary as its InvFreq table.
func (r *runner) rope() error {
	xt, err := r.tensor("x", 4)
	if err != nil {
		return err
	}
	x, err := r.upload(xt)
	if err != nil {
		return err
	}
	var opt backend.RotaryOptions
	if opt.Style, err = backend.ParseRotaryStyle(r.File.Metadata["style"]); err != nil {
		return fmt.Errorf("metadata style: %w", err)
	}
	if opt.Theta, err = r.Float("theta", 10000); err != nil {
		return err
	}
	if opt.RotaryDim, err = r.Int("rotary_dim", 0); err != nil {
		return err
	}
	if opt.Offset, err = r.Int("offset", 0); err != nil {
		return err
	}
	scaling, err := r.ropeScaling()
	if err != nil {
		return err
	}
	if scaling.Type != backend.RopeUnscaled {
		opt.InvFreq = scaling.InverseFrequencies(opt.Theta, cmp.Or(opt.RotaryDim, xt.Shape[3]))
		opt.Theta = 0
	}
	if t := r.File.Tensor("positions"); t != nil {
		r.used["positions"] = true
		if opt.Positions, err = r.upload(t); err != nil {
			return err
		}
	}
	if err := r.checkAllUsed(); err != nil {
		return err
	}
	in, err := backend.HeadsOf(x)
	if err != nil {
		return err
	}
	dst, err := r.alloc(xt.Shape...)
	if err != nil {
		return err
	}
	out, err := backend.HeadsOf(dst)
	if err != nil {
		return err
	}
	if err := r.be.Rotary(out, in, opt); err != nil {
		return err
	}
	got, err := r.download(dst)
	if err != nil {
		return err
	}
	keep := make([]bool, len(got)/max(in.Dim, 1))
	for i := range keep {
		keep[i] = true
	}
	// out is Hugging Face's float32 rotation, whose angles are rounded to
	// float32 (off by ~1e-7 * position): not a float32 computation of
	// out_f64's math, so no baseline; the hard cap alone applies.
	r.used["out"] = true
	r.compareRows("out", got, dst.Shape(), keep, false)
	return nil
}

// rmsnorm normalises x [N, E] with weight [E] and the case's eps.
func (r *runner) rmsnorm() error {
	var ts [2]backend.Tensor
	for i, name := range []string{"x", "weight"} {
		t, err := r.tensor(name, 2-i)
		if err != nil {
			return err
		}
		if ts[i], err = r.upload(t); err != nil {
			return err
		}
	}
	eps, err := r.Float("eps", 1e-6)
	if err != nil {
		return err
	}
	if err := r.checkAllUsed(); err != nil {
		return err
	}
	dst, err := r.alloc(ts[0].Shape()...)
	if err != nil {
		return err
	}
	if err := r.be.RMSNorm(dst, ts[0], backend.RMSNormOptions{Weight: ts[1], Eps: float32(eps)}); err != nil {
		return err
	}
	return r.compare("out", "out", dst, 0)
}

// llama loads a model.CausalLM from the case's weights and runs input_ids
// [B, S] under attention_mask twice: one Forward of every position ("out"),
// and a Forward of the first prefill positions followed by one Step per later
// position through the KV cache ("out (cache)"). Both are compared with
// out_f64 on the rows whose attention_mask is 1. With kv_dtype f16 the
// reference rounds K and V to half precision, and a float32 K or V that lies
// within a rounding error of a half's rounding boundary may round the other
// way (one half ulp in one cached value: seen once in 2048 values of
// llama_tiny_leftpad_f16kv's cached path); those outputs are held to the ratio
// rule alone (tolerance.CheckRowsRatio).
func (r *runner) llama() error {
	cfg, kvType, prefill, err := r.llamaConfig()
	r.halfRounded = kvType == backend.Float16
	if err != nil {
		return err
	}
	ids, err := r.tokenRows("input_ids")
	if err != nil {
		return err
	}
	mask, err := r.tokenRows("attention_mask")
	if err != nil {
		return err
	}
	if len(ids) == 0 || len(ids[0]) == 0 {
		return fmt.Errorf("input_ids is %dx0: no tokens", len(ids))
	}
	if len(mask) != len(ids) || len(mask[0]) != len(ids[0]) {
		return fmt.Errorf("attention_mask is %dx%d, input_ids %dx%d", len(mask), len(mask[0]), len(ids), len(ids[0]))
	}
	w, err := r.weights()
	if err != nil {
		return err
	}
	lm, err := model.LoadCausalLM(r.be, cfg, w)
	if err != nil {
		return err
	}
	r.closers = append(r.closers, lm)
	b, s := len(ids), len(ids[0])
	if prefill < 1 || prefill > s {
		return fmt.Errorf("metadata prefill = %d, want 1..%d", prefill, s)
	}
	cache, err := lm.NewCache(b, s, kvType)
	if err != nil {
		return err
	}
	r.closers = append(r.closers, cache)
	keep := make([]bool, b*s)
	for i := range keep {
		keep[i] = mask[i/s][i%s] == 1
	}

	full, err := lm.Forward(cache, ids, mask)
	if err != nil {
		return err
	}
	logits, err := r.download(r.own(full))
	if err != nil {
		return err
	}
	r.compareRows("out", logits, full.Shape(), keep, true)

	first, err := lm.Forward(cache, cut(ids, 0, prefill), cut(mask, 0, prefill))
	if err != nil {
		return err
	}
	part, err := r.download(r.own(first))
	if err != nil {
		return err
	}
	v := cfg.VocabSize
	cached := make([]float32, b*s*v)
	for row := range b {
		copy(cached[row*s*v:][:prefill*v], part[row*prefill*v:][:prefill*v])
	}
	for p := prefill; p < s; p++ {
		for row := range b {
			if mask[row][p] == 0 {
				return fmt.Errorf("attention_mask [%d][%d] is 0 after the prefill: padding must come first", row, p)
			}
		}
		step, err := lm.Step(cache, cut(ids, p, p+1))
		if err != nil {
			return err
		}
		out, err := r.download(step)
		if err := errors.Join(err, step.Release()); err != nil {
			return err
		}
		for row := range b {
			copy(cached[(row*s+p)*v:][:v], out[row*v:][:v])
		}
	}
	r.compareRows("out (cache)", cached, full.Shape(), keep, true)
	return nil
}

// llamaConfig reads the model configuration, the KV dtype and the prefill
// length of a llama case from its metadata (Hugging Face's defaults where absent).
func (r *runner) llamaConfig() (cfg model.LlamaConfig, kv backend.DType, prefill int, err error) {
	cfg = model.LlamaConfig{Architecture: "LlamaForCausalLM"}
	for _, f := range []struct {
		key string
		dst *int
		def int
	}{{"vocab", &cfg.VocabSize, 0}, {"hidden", &cfg.Hidden, 0}, {"layers", &cfg.Layers, 1}, {"heads", &cfg.Heads, 0},
		{"intermediate", &cfg.Intermediate, 0}, {"prefill", &prefill, 1}} {
		if *f.dst, err = r.Int(f.key, f.def); err != nil {
			return
		}
	}
	if cfg.KVHeads, err = r.Int("kv_heads", cfg.Heads); err != nil {
		return
	}
	if cfg.Heads > 0 {
		cfg.HeadDim = cfg.Hidden / cfg.Heads
	}
	if cfg.HeadDim, err = r.Int("head_dim", cfg.HeadDim); err != nil {
		return
	}
	if cfg.RopeTheta, err = r.Float("rope_theta", 10000); err != nil {
		return
	}
	if cfg.RopeScaling, err = r.ropeScaling(); err != nil {
		return
	}
	eps, err := r.Float("rms_eps", 1e-6)
	if err != nil {
		return
	}
	cfg.RMSNormEps = float32(eps)
	if cfg.TieWordEmbeddings, err = r.Bool("tie_word_embeddings", false); err != nil {
		return
	}
	if cfg.AttentionBias, err = r.Bool("attention_bias", false); err != nil {
		return
	}
	kv = backend.Float32
	if s := r.File.Metadata["kv_dtype"]; s != "" {
		if kv, err = backend.ParseDType(s); err != nil {
			return
		}
	}
	if s := r.File.Metadata["left_pad"]; s != "" {
		var pads []int // informational: the attention mask says the same
		if err = json.Unmarshal([]byte(s), &pads); err != nil {
			err = fmt.Errorf("metadata left_pad = %q, want a JSON list of integers", s)
			return
		}
	}
	return cfg, kv, prefill, cfg.Validate()
}

// ropeScaling reads the metadata rope_scaling, a JSON object as config.json
// spells it (none where absent).
func (r *runner) ropeScaling() (backend.RopeScaling, error) {
	s, ok := r.File.Metadata["rope_scaling"]
	if !ok {
		return backend.RopeScaling{}, nil
	}
	scaling, err := model.ParseRopeScaling([]byte(s))
	if err != nil {
		return scaling, fmt.Errorf("metadata rope_scaling: %w", err)
	}
	return scaling, nil
}

// cut returns columns [lo, hi) of every row.
func cut(rows [][]int, lo, hi int) [][]int {
	out := make([][]int, len(rows))
	for i, row := range rows {
		out[i] = row[lo:hi]
	}
	return out
}

// compareRows checks got (of shape, rows along the last dimension) against
// out_f64 on the rows marked keep; with baseline, PyTorch's out is naive32
// (and must itself pass the hard cap, as compare requires), else the hard cap
// alone applies.
func (r *runner) compareRows(output string, got []float32, shape backend.Shape, keep []bool, baseline bool) {
	res := Result{Case: r.Name, Kind: r.Kind, Output: output}
	defer func() { r.results = append(r.results, res) }()
	fail := func(format string, args ...any) {
		res.Limit = math.NaN()
		res.Reason = fmt.Sprintf(format, args...)
	}
	ref64, err := r.tensor("out_f64", 0)
	if err != nil {
		fail("%v", err)
		return
	}
	if !backend.Shape(ref64.Shape).Equal(shape) {
		fail("output is %v, out_f64 is %v", shape, backend.Shape(ref64.Shape))
		return
	}
	want, err := ref64.Float64s()
	if err != nil {
		fail("%v", err)
		return
	}
	var naive []float32
	if t := r.File.Tensor("out"); t != nil && baseline {
		r.used["out"] = true
		if naive, err = t.Float32s(); err != nil || len(naive) != len(want) {
			fail("out: %v (%d values, want %d)", err, len(naive), len(want))
			return
		}
	}
	n := shape[len(shape)-1]
	var g, nv []float32
	var w []float64
	for row, k := range keep {
		if k {
			g = append(g, got[row*n:(row+1)*n]...)
			w = append(w, want[row*n:(row+1)*n]...)
			if naive != nil {
				nv = append(nv, naive[row*n:(row+1)*n]...)
			}
		}
	}
	if naive != nil {
		res.Torch32 = tolerance.Check(nv, w, nil, 0).MaxAbs
		if base := tolerance.CheckRows(nv, w, nil, n); !base.OK() {
			fail("PyTorch's float32 out is itself off out_f64 (%v): a bad reference file", base)
			return
		}
	}
	rep := tolerance.CheckRows(g, w, nv, n)
	if r.halfRounded {
		rep = tolerance.CheckRowsRatio(g, w, nv, n)
	}
	res.MaxAbs, res.Limit, res.Pass = rep.MaxAbs, rep.Limit, rep.OK()
	if nv == nil {
		// No baseline, no ratio limit: the hard cap is the limit that applied.
		res.Limit = hardCap(w, n)
	}
	if !rep.OK() {
		res.Reason = fmt.Sprintf("%s, shape %v (rows whose attention_mask is 1)", rep, shape)
	}
}

// hardCap is the largest elementwise bound of the tolerance rule's cap,
// 1e-5 * (max|ref| of the row) + 1e-5 * |ref|: 2e-5 times the largest |ref|
// (rows of n elements).
func hardCap(ref []float64, n int) float64 {
	largest := 0.0
	for _, v := range ref[:len(ref)/n*n] {
		largest = math.Max(largest, math.Abs(v))
	}
	return 2e-5 * largest
}
