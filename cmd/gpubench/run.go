package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clattn/clattn"
	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

func init() {
	register("run", "a layer or stack with PyTorch weights on safetensors inputs, output to safetensors", cmdRun)
}

// runFlags are the command line of gpubench run.
type runFlags struct {
	weights, input, output, layer, activation, device string
	heads, layers                                     int
	normFirst, finalNorm, causal                      bool
	eps                                               float64
}

const runUsage = "--weights W.safetensors --input X.safetensors --output Y.safetensors --layer encoder|decoder|mha --heads N " +
	"[--norm-first] [--activation relu|gelu] [--layers N] [--final-norm] [--eps E] [--causal] [--device D]\n\n" +
	"Inputs (tensors of X): encoder: x [B,S,E], attn_mask, key_padding_mask; decoder: tgt, memory, tgt_mask,\n" +
	"tgt_key_padding_mask, memory_mask, memory_key_padding_mask; mha: q, kv (default q), attn_mask, key_padding_mask.\n" +
	"A U8 attention mask is boolean (1 = masked), a float one additive; key padding masks are U8 (1 = padding).\n" +
	"Weights are a PyTorch state_dict (stacks: layers.N.*, final norm: norm.*; mha: self_attn.* or unprefixed);\n" +
	"d_model and d_ff come from their shapes. Y gets the output as \"out\"."

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr, runUsage)
	var f runFlags
	fs.StringVar(&f.weights, "weights", "", "safetensors file of the weights (required)")
	fs.StringVar(&f.input, "input", "", "safetensors file of the inputs and masks (required)")
	fs.StringVar(&f.output, "output", "", "safetensors file to write the output to (required)")
	fs.StringVar(&f.layer, "layer", "", "encoder, decoder or mha (required)")
	fs.IntVar(&f.heads, "heads", 0, "attention heads (required: no weight shape tells)")
	fs.BoolVar(&f.normFirst, "norm-first", false, "pre-norm layers (PyTorch's norm_first=True)")
	fs.StringVar(&f.activation, "activation", "relu", "feed-forward activation: relu or gelu")
	fs.IntVar(&f.layers, "layers", 0, "encoder stack depth (default: as many layers.N.* as the weights hold, else one layer)")
	fs.BoolVar(&f.finalNorm, "final-norm", false, "the encoder stack ends with its own LayerNorm (norm.*)")
	fs.Float64Var(&f.eps, "eps", 1e-5, "LayerNorm eps")
	fs.BoolVar(&f.causal, "causal", false, "causal (top-left) self-attention mask in the kernel, besides any mask of the input")
	fs.StringVar(&f.device, "device", "", "device spec (default $CLATTN_DEVICE or auto)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkRunFlags(fs, f); err != nil {
		return err
	}
	if err := checkOutput(f.output, f.weights, f.input); err != nil {
		return err
	}
	weights, err := safetensors.ReadFile(f.weights)
	if err != nil {
		return err
	}
	input, err := safetensors.ReadFile(f.input)
	if err != nil {
		return err
	}
	b, err := clattn.Open(f.device)
	if err != nil {
		return err
	}
	defer b.Close()
	start := time.Now()
	in := &runInputs{be: b, f: input, used: map[string]bool{}}
	out, desc, err := runLayer(b, f, weights, in)
	err = errors.Join(err, in.release())
	if err != nil {
		return err
	}
	defer out.Release()
	data := make([]float32, out.Shape().Numel())
	if err := b.Download(data, out); err != nil {
		return err
	}
	elapsed := time.Since(start)
	meta := map[string]string{"layer": f.layer, "device": b.Name(), "weights": f.weights, "input": f.input}
	if err := safetensors.WriteFile(f.output, []*safetensors.Tensor{safetensors.FromFloat32("out", data, out.Shape()...)}, meta, f.weights, f.input); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "run: %s on %s: out %v written to %s (%.1f ms)\n", desc, b.Name(), out.Shape(), f.output, float64(elapsed.Microseconds())/1000)
	return nil
}

// checkRunFlags rejects missing, invalid and inapplicable flags.
func checkRunFlags(fs *flag.FlagSet, f runFlags) error {
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected argument %q", fs.Arg(0))
	}
	for _, req := range []struct{ name, value string }{{"weights", f.weights}, {"input", f.input}, {"output", f.output}, {"layer", f.layer}} {
		if req.value == "" {
			return usageErrorf(fs, "--%s is required", req.name)
		}
	}
	switch f.layer {
	case "encoder", "decoder", "mha":
	default:
		return usageErrorf(fs, "--layer %q: want encoder, decoder or mha", f.layer)
	}
	if f.heads <= 0 {
		return usageErrorf(fs, "--heads must be given and > 0")
	}
	if f.activation != "relu" && f.activation != "gelu" {
		return usageErrorf(fs, "--activation %q: want relu or gelu", f.activation)
	}
	if f.layers < 0 {
		return usageErrorf(fs, "--layers %d: want > 0", f.layers)
	}
	if _, err := backend.EpsFloat32(f.eps); err != nil || f.eps > 1 {
		return usageErrorf(fs, "--eps %g: want a small number > 0 that float32 holds (>= %g)", f.eps, math.SmallestNonzeroFloat32)
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	inapplicable := map[string][]string{
		"mha":     {"norm-first", "activation", "layers", "final-norm", "eps"},
		"decoder": {"layers", "final-norm"},
	}
	for _, name := range inapplicable[f.layer] {
		if set[name] {
			return usageErrorf(fs, "--%s does not apply to --layer %s", name, f.layer)
		}
	}
	return nil
}

// runLayer loads the layer or stack f describes and runs it on the inputs;
// it returns the output (the caller releases it) and a description.
func runLayer(b backend.Backend, f runFlags, wf *safetensors.File, in *runInputs) (backend.Tensor, string, error) {
	w, err := model.NewWeights(wf.Tensors...)
	if err != nil {
		return nil, "", err
	}
	act, err := backend.ParseActivation(f.activation)
	if err != nil {
		return nil, "", err
	}
	switch f.layer {
	case "mha":
		return runMHA(b, f, wf, w, in)
	case "decoder":
		cfg, err := layerConfig(f, wf, "", act)
		if err != nil {
			return nil, "", err
		}
		return runDecoder(b, f, cfg, w, in)
	}
	depth, err := stackDepth(wf, f.layers)
	if err != nil {
		return nil, "", err
	}
	prefix := ""
	if depth > 0 {
		prefix = "layers.0."
	} else if f.finalNorm {
		return nil, "", errors.New("--final-norm needs a stack: the weights have no layers.N.* tensors")
	}
	cfg, err := layerConfig(f, wf, prefix, act)
	if err != nil {
		return nil, "", err
	}
	return runEncoder(b, f, cfg, depth, w, in)
}

// layerConfig reads d_model from prefix+"self_attn.in_proj_weight" [3E, E] and
// d_ff from prefix+"linear1.weight" [d_ff, E].
func layerConfig(f runFlags, wf *safetensors.File, prefix string, act backend.Activation) (model.LayerConfig, error) {
	dModel, err := weightDim(wf, prefix+"self_attn.in_proj_weight", 1)
	if err != nil {
		return model.LayerConfig{}, err
	}
	dFF, err := weightDim(wf, prefix+"linear1.weight", 0)
	if err != nil {
		return model.LayerConfig{}, err
	}
	return model.LayerConfig{DModel: dModel, Heads: f.heads, DFF: dFF, Activation: act,
		NormFirst: f.normFirst, Eps: float32(f.eps)}, nil // checked by checkRunFlags
}

// weightDim is dimension dim of the 2-D weight called name.
func weightDim(wf *safetensors.File, name string, dim int) (int, error) {
	t := wf.Tensor(name)
	if t == nil {
		return 0, fmt.Errorf("weights: no %q (is --layer right? tensors: %s)", name, tensorNames(wf, 6))
	}
	if len(t.Shape) != 2 {
		return 0, fmt.Errorf("weights: %q is %v, want 2 dimensions", name, backend.Shape(t.Shape))
	}
	return t.Shape[dim], nil
}

// tensorNames lists up to n tensor names of a file, for messages.
func tensorNames(f *safetensors.File, n int) string {
	var names []string
	for _, t := range f.Tensors {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	if len(names) > n {
		names = append(names[:n], fmt.Sprintf("... (%d in all)", len(f.Tensors)))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// stackDepth is the number of layers.N.* layers of the weights (0 for a single
// layer without prefix), checked against --layers where given.
func stackDepth(wf *safetensors.File, flagLayers int) (int, error) {
	seen := map[int]bool{}
	for _, t := range wf.Tensors {
		rest, ok := strings.CutPrefix(t.Name, "layers.")
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("weights: tensor %q: want layers.N.* with N a layer number", t.Name)
		}
		seen[n] = true
	}
	depth := len(seen)
	for i := range depth {
		if !seen[i] {
			return 0, fmt.Errorf("weights: layers.%d.* missing among %d layers", i, depth)
		}
	}
	switch {
	case flagLayers == 0 || flagLayers == depth:
		return depth, nil
	case depth == 0 && flagLayers == 1:
		return 0, nil
	case depth == 0:
		return 0, fmt.Errorf("--layers %d, but the weights hold one layer (no layers.N.* tensors)", flagLayers)
	}
	return 0, fmt.Errorf("--layers %d, but the weights hold %d layers (layers.0 .. layers.%d)", flagLayers, depth, depth-1)
}

func runEncoder(b backend.Backend, f runFlags, cfg model.LayerConfig, depth int, w *model.Weights, in *runInputs) (backend.Tensor, string, error) {
	x, err := in.tensor("x", true)
	if err != nil {
		return nil, "", err
	}
	masks, err := in.masks("attn_mask", "key_padding_mask", f.causal)
	if err != nil {
		return nil, "", err
	}
	if err := in.checkAllUsed(); err != nil {
		return nil, "", err
	}
	desc := fmt.Sprintf("encoder layer (d_model %d, %d heads, d_ff %d)", cfg.DModel, cfg.Heads, cfg.DFF)
	if depth == 0 {
		layer, err := model.LoadEncoderLayer(b, cfg, w, "")
		if err != nil {
			return nil, "", err
		}
		out, err := layer.Forward(x, masks)
		return out, desc, errors.Join(err, layer.Close())
	}
	enc, err := model.LoadEncoder(b, model.EncoderConfig{Layer: cfg, Layers: depth, FinalNorm: f.finalNorm, FinalNormEps: cfg.Eps}, w, "")
	if err != nil {
		return nil, "", err
	}
	out, err := enc.Forward(x, masks)
	desc = fmt.Sprintf("encoder stack of %d layers (d_model %d, %d heads, d_ff %d, final norm %v)", depth, cfg.DModel, cfg.Heads, cfg.DFF, f.finalNorm)
	return out, desc, errors.Join(err, enc.Close())
}

func runDecoder(b backend.Backend, f runFlags, cfg model.LayerConfig, w *model.Weights, in *runInputs) (backend.Tensor, string, error) {
	tgt, err := in.tensor("tgt", true)
	if err != nil {
		return nil, "", err
	}
	memory, err := in.tensor("memory", true)
	if err != nil {
		return nil, "", err
	}
	var opt model.DecoderOptions
	if opt.Self, err = in.masks("tgt_mask", "tgt_key_padding_mask", f.causal); err != nil {
		return nil, "", err
	}
	if opt.Memory, err = in.masks("memory_mask", "memory_key_padding_mask", false); err != nil {
		return nil, "", err
	}
	if err := in.checkAllUsed(); err != nil {
		return nil, "", err
	}
	layer, err := model.LoadDecoderLayer(b, cfg, w, "")
	if err != nil {
		return nil, "", err
	}
	out, err := layer.Forward(tgt, memory, opt)
	desc := fmt.Sprintf("decoder layer (d_model %d, %d heads, d_ff %d)", cfg.DModel, cfg.Heads, cfg.DFF)
	return out, desc, errors.Join(err, layer.Close())
}

func runMHA(b backend.Backend, f runFlags, wf *safetensors.File, w *model.Weights, in *runInputs) (backend.Tensor, string, error) {
	prefix := ""
	if wf.Tensor("in_proj_weight") == nil && wf.Tensor("self_attn.in_proj_weight") != nil {
		prefix = "self_attn."
	}
	dModel, err := weightDim(wf, prefix+"in_proj_weight", 1)
	if err != nil {
		return nil, "", err
	}
	q, err := in.tensor("q", true)
	if err != nil {
		return nil, "", err
	}
	kv, err := in.tensor("kv", false)
	if err != nil {
		return nil, "", err
	}
	masks, err := in.masks("attn_mask", "key_padding_mask", f.causal)
	if err != nil {
		return nil, "", err
	}
	if err := in.checkAllUsed(); err != nil {
		return nil, "", err
	}
	noBias := wf.Tensor(prefix+"in_proj_bias") == nil
	m, err := model.LoadMultiHeadAttention(b, model.MHAConfig{DModel: dModel, Heads: f.heads, NoBias: noBias}, w, prefix)
	if err != nil {
		return nil, "", err
	}
	out, err := m.Forward(q, kv, masks)
	kind := "self"
	if kv != nil {
		kind = "cross"
	}
	desc := fmt.Sprintf("multi-head %s-attention (d_model %d, %d heads, bias %v)", kind, dModel, f.heads, !noBias)
	return out, desc, errors.Join(err, m.Close())
}

// runInputs uploads the tensors of the input file, remembering which were read
// (a tensor nobody reads is an error: a misspelt mask must not be ignored).
type runInputs struct {
	be       backend.Backend
	f        *safetensors.File
	used     map[string]bool
	uploaded []backend.Tensor
}

// tensor uploads the named input; a missing one is nil, or an error if required.
func (in *runInputs) tensor(name string, required bool) (backend.Tensor, error) {
	t := in.f.Tensor(name)
	if t == nil {
		if required {
			return nil, fmt.Errorf("input: no tensor %q (tensors: %s)", name, tensorNames(in.f, 8))
		}
		return nil, nil
	}
	in.used[name] = true
	bt, err := model.Upload(in.be, t)
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", name, err)
	}
	in.uploaded = append(in.uploaded, bt)
	return bt, nil
}

// masks reads an optional attention mask (U8 boolean or float additive) and an
// optional U8 key padding mask.
func (in *runInputs) masks(maskName, paddingName string, causal bool) (backend.AttentionOptions, error) {
	var opt backend.AttentionOptions
	if causal {
		opt.Causal = backend.CausalTopLeft
	}
	if t := in.f.Tensor(maskName); t != nil {
		in.used[maskName] = true
		m, kind, err := model.UploadMask(in.be, t)
		if err != nil {
			return opt, fmt.Errorf("input %q: %w", maskName, err)
		}
		in.uploaded = append(in.uploaded, m)
		opt.Mask, opt.MaskKind = m, kind
	}
	if t := in.f.Tensor(paddingName); t != nil {
		if t.DType != safetensors.U8 {
			return opt, fmt.Errorf("input %q has dtype %s: key padding masks must be U8 (boolean, 1 = padding)", paddingName, t.DType)
		}
		kp, err := in.tensor(paddingName, true)
		if err != nil {
			return opt, err
		}
		opt.KeyPadding = kp
	}
	return opt, nil
}

// checkAllUsed fails on input tensors the layer does not read.
func (in *runInputs) checkAllUsed() error {
	var extra []string
	for _, t := range in.f.Tensors {
		if !in.used[t.Name] {
			extra = append(extra, t.Name)
		}
	}
	if len(extra) > 0 {
		return fmt.Errorf("input: tensor(s) this layer does not read: %s", strings.Join(extra, ", "))
	}
	return nil
}

func (in *runInputs) release() error {
	var errs []error
	for _, t := range in.uploaded {
		errs = append(errs, t.Release())
	}
	in.uploaded = nil
	return errors.Join(errs...)
}
