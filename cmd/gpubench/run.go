package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"sort"
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
	weights, input, output, layer, activation, device, boolMask string
	heads, layers                                               int
	normFirst, finalNorm, causal, seqFirst, addZeroAttn         bool
	eps, finalNormEps                                           float64
}

const runUsage = "--weights W.safetensors --input X.safetensors --output Y.safetensors\n" +
	"       --layer encoder|decoder|decoder-stack|transformer|mha --heads N [--seq-first] [--norm-first] [--activation relu|gelu]\n" +
	"       [--layers N] [--final-norm] [--final-norm-eps E] [--eps E] [--causal] [--add-zero-attn] [--bool-mask masked|attend] [--device D]\n\n" +
	"Inputs (tensors of X): encoder: x, attn_mask, key_padding_mask; decoder, decoder-stack: tgt, memory, tgt_mask,\n" +
	"tgt_key_padding_mask, memory_mask, memory_key_padding_mask; transformer: src, tgt, src_mask, src_key_padding_mask,\n" +
	"tgt_mask, tgt_key_padding_mask, memory_mask, memory_key_padding_mask; mha: q, kv (default q) or k and v,\n" +
	"attn_mask ([Sq,Sk] or [B*H,Sq,Sk]), key_padding_mask.\n" +
	"Layout: a weights file cannot tell it, so inputs are taken as batch-first [B,S,E] (PyTorch's batch_first=True);\n" +
	"give --seq-first for [S,B,E] inputs (PyTorch's default, batch_first=False): the output then is [S,B,E] too.\n" +
	"Masks: a BOOL or U8 mask is boolean, read as --bool-mask says (masked: true = masked, as nn.MultiheadAttention\n" +
	"and nn.Transformer, the default; attend: true = attend, as F.scaled_dot_product_attention); a float mask is\n" +
	"additive (-inf masks), for key padding masks too; the key padding masks of one input file are all of one kind.\n" +
	"Weights are a PyTorch state_dict (stacks: layers.N.*, final norm: norm.*; transformer: encoder.* and decoder.*;\n" +
	"mha: self_attn.* or unprefixed, in_proj_weight or q/k/v_proj_weight, bias_k/bias_v for add_bias_kv);\n" +
	"d_model, d_ff, kdim and vdim come from their shapes, bias=False from missing biases. Y gets the output as \"out\"."

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr, runUsage)
	var f runFlags
	fs.StringVar(&f.weights, "weights", "", "safetensors file of the weights (required)")
	fs.StringVar(&f.input, "input", "", "safetensors file of the inputs and masks (required)")
	fs.StringVar(&f.output, "output", "", "safetensors file to write the output to (required)")
	fs.StringVar(&f.layer, "layer", "", "encoder (a layer or a layers.N.* stack), decoder (the same), decoder-stack, transformer or mha (required)")
	fs.IntVar(&f.heads, "heads", 0, "attention heads (required: no weight shape tells)")
	fs.BoolVar(&f.normFirst, "norm-first", false, "pre-norm layers (PyTorch's norm_first=True)")
	fs.StringVar(&f.activation, "activation", "relu", "feed-forward activation: relu or gelu")
	fs.IntVar(&f.layers, "layers", 0, "stack depth (default: as many layers.N.* as the weights hold, else one layer)")
	fs.BoolVar(&f.finalNorm, "final-norm", false, "the stack ends with its own LayerNorm (norm.*)")
	fs.BoolVar(&f.seqFirst, "seq-first", false, "inputs and output are [S,B,E] (PyTorch's batch_first=False); default [B,S,E]")
	fs.BoolVar(&f.addZeroAttn, "add-zero-attn", false, "mha: append an all-zero key and value (PyTorch's add_zero_attn)")
	fs.StringVar(&f.boolMask, "bool-mask", "masked", "boolean masks: masked (true = masked, nn.MultiheadAttention) or attend (true = attend, F.scaled_dot_product_attention)")
	fs.Float64Var(&f.eps, "eps", 1e-5, "LayerNorm eps")
	fs.Float64Var(&f.finalNormEps, "final-norm-eps", 0, "eps of a stack's final LayerNorm (default --eps; nn.LayerNorm(d_model) built apart has 1e-5)")
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
	conv, err := model.ParseBoolConvention(f.boolMask)
	if err != nil {
		return err
	}
	in := &runInputs{be: b, f: input, used: map[string]bool{}, conv: conv}
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
	case "encoder", "decoder", "decoder-stack", "transformer", "mha":
	default:
		return usageErrorf(fs, "--layer %q: want encoder, decoder, decoder-stack, transformer or mha", f.layer)
	}
	if _, err := model.ParseBoolConvention(f.boolMask); err != nil {
		return usageErrorf(fs, "--bool-mask: %v", err)
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
	if _, err := backend.EpsFloat32(f.finalNormEps); f.finalNormEps != 0 && (err != nil || f.finalNormEps > 1) {
		return usageErrorf(fs, "--final-norm-eps %g: want a small number > 0 that float32 holds (>= %g)", f.finalNormEps, math.SmallestNonzeroFloat32)
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	inapplicable := map[string][]string{
		"mha":           {"norm-first", "activation", "layers", "final-norm", "eps", "final-norm-eps"},
		"encoder":       {"add-zero-attn"},
		"decoder":       {"add-zero-attn"},
		"decoder-stack": {"add-zero-attn"},
		"transformer":   {"add-zero-attn", "layers", "final-norm", "final-norm-eps"},
	}
	for _, name := range inapplicable[f.layer] {
		if set[name] {
			return usageErrorf(fs, "--%s does not apply to --layer %s", name, f.layer)
		}
	}
	return nil
}

// runLayer reads the inputs of the layer, stack or transformer f describes,
// loads it (model.Load; mha: runMHA) and runs it; it returns the output (the
// caller releases it) and a description.
func runLayer(b backend.Backend, f runFlags, wf *safetensors.File, in *runInputs) (backend.Tensor, string, error) {
	w, err := model.NewWeights(wf.Tensors...)
	if err != nil {
		return nil, "", err
	}
	if f.layer == "mha" {
		return runMHA(b, f, wf, w, in)
	}
	act, err := backend.ParseActivation(f.activation)
	if err != nil {
		return nil, "", err
	}
	kind := f.layer
	if kind == "decoder-stack" {
		kind = model.KindDecoder
	}
	spec, err := model.Inspect(kind, w, model.LoadOptions{Heads: f.heads, Activation: act, NormFirst: f.normFirst,
		Eps: float32(f.eps), NoBias: !w.HasLayerBiases(), Layout: f.layout(), // eps checked by checkRunFlags
		Layers: f.layers, FinalNorm: f.finalNorm, FinalNormEps: f.stackNormEps()})
	if err != nil {
		return nil, "", fmt.Errorf("weights: %w (is --layer right?)", err)
	}
	if f.layer == "decoder-stack" && spec.Layers == 0 {
		return nil, "", errors.New("--layer decoder-stack: the weights have no layers.N.* tensors (one layer: --layer decoder)")
	}
	var mi model.Inputs
	var src, self, memory model.MHAOptions
	switch kind {
	case model.KindEncoder:
		if mi.Src, err = in.tensor("x", true); err != nil {
			return nil, "", err
		}
		src, err = in.masks("attn_mask", "key_padding_mask", f.causal)
	case model.KindDecoder:
		if mi.Tgt, err = in.tensor("tgt", true); err != nil {
			return nil, "", err
		}
		if mi.Memory, err = in.tensor("memory", true); err != nil {
			return nil, "", err
		}
		self, memory, err = in.decoderMasks(f.causal)
	case model.KindTransformer:
		if mi.Src, err = in.tensor("src", true); err != nil {
			return nil, "", err
		}
		if mi.Tgt, err = in.tensor("tgt", true); err != nil {
			return nil, "", err
		}
		if src, err = in.masks("src_mask", "src_key_padding_mask", false); err != nil {
			return nil, "", err
		}
		self, memory, err = in.decoderMasks(f.causal)
	}
	if err != nil {
		return nil, "", err
	}
	if mi.KeyPaddingKind, err = model.KeyPaddingKindOf(src, self, memory); err != nil {
		return nil, "", fmt.Errorf("inputs: %w", err)
	}
	mi.SrcMasks, mi.TgtMasks, mi.MemoryMasks = src.AttentionOptions, self.AttentionOptions, memory.AttentionOptions
	if err := in.checkAllUsed(); err != nil {
		return nil, "", err
	}
	m, err := spec.Load(b, w)
	if err != nil {
		return nil, "", err
	}
	out, err := m.Forward(mi)
	return out, spec.String(), errors.Join(err, m.Close())
}

// stackNormEps is the eps of a stack's final LayerNorm.
func (f runFlags) stackNormEps() float32 {
	if f.finalNormEps > 0 {
		return float32(f.finalNormEps)
	}
	return float32(f.eps)
}

// layout is the layout --seq-first selects.
func (f runFlags) layout() model.Layout {
	if f.seqFirst {
		return model.SeqFirst
	}
	return model.BatchFirst
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

func runMHA(b backend.Backend, f runFlags, wf *safetensors.File, w *model.Weights, in *runInputs) (backend.Tensor, string, error) {
	prefix := ""
	if wf.Tensor("out_proj.weight") == nil && wf.Tensor("self_attn.out_proj.weight") != nil {
		prefix = "self_attn."
	}
	cfg := model.MHAConfig{Heads: f.heads, Layout: f.layout(), AddZeroAttn: f.addZeroAttn,
		NoBias: wf.Tensor(prefix+"in_proj_bias") == nil, AddBiasKV: wf.Tensor(prefix+"bias_k") != nil}
	var err error
	if wf.Tensor(prefix+"in_proj_weight") == nil && wf.Tensor(prefix+"q_proj_weight") != nil {
		for _, d := range []struct {
			name string
			dim  *int
		}{{"q_proj_weight", &cfg.DModel}, {"k_proj_weight", &cfg.KDim}, {"v_proj_weight", &cfg.VDim}} {
			if *d.dim, err = weightDim(wf, prefix+d.name, 1); err != nil {
				return nil, "", err
			}
		}
	} else if cfg.DModel, err = weightDim(wf, prefix+"in_proj_weight", 1); err != nil {
		return nil, "", err
	}
	q, err := in.tensor("q", true)
	if err != nil {
		return nil, "", err
	}
	key, err := in.tensor("kv", false)
	if err != nil {
		return nil, "", err
	}
	value := key
	kind := "self"
	switch {
	case key != nil:
		kind = "cross"
	case in.f.Tensor("k") != nil || in.f.Tensor("v") != nil:
		if key, err = in.tensor("k", true); err != nil {
			return nil, "", err
		}
		if value, err = in.tensor("v", true); err != nil {
			return nil, "", err
		}
		kind = "cross"
	}
	opt, err := in.masks("attn_mask", "key_padding_mask", f.causal)
	if err != nil {
		return nil, "", err
	}
	if err := in.checkAllUsed(); err != nil {
		return nil, "", err
	}
	m, err := model.LoadMultiHeadAttention(b, cfg, w, prefix)
	if err != nil {
		return nil, "", err
	}
	out, _, err := m.Attend(q, key, value, opt)
	desc := fmt.Sprintf("multi-head %s-attention (d_model %d, %d heads, bias %v, add_bias_kv %v, add_zero_attn %v)",
		kind, cfg.DModel, f.heads, !cfg.NoBias, cfg.AddBiasKV, cfg.AddZeroAttn)
	return out, desc, errors.Join(err, m.Close())
}

// runInputs uploads the tensors of the input file, remembering which were read
// (a tensor nobody reads is an error: a misspelt mask must not be ignored).
type runInputs struct {
	be       backend.Backend
	f        *safetensors.File
	conv     model.BoolConvention // how boolean masks read
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

// masks reads an optional attention mask and key padding mask (boolean BOOL
// or U8 read as in.conv says, or float additive).
func (in *runInputs) masks(maskName, paddingName string, causal bool) (model.MHAOptions, error) {
	var opt model.MHAOptions
	if causal {
		opt.Causal = backend.CausalTopLeft
	}
	for _, m := range []struct {
		name string
		t    *backend.Tensor
		kind *backend.MaskKind
	}{{maskName, &opt.Mask, &opt.MaskKind}, {paddingName, &opt.KeyPadding, &opt.KeyPaddingKind}} {
		t := in.f.Tensor(m.name)
		if t == nil {
			continue
		}
		in.used[m.name] = true
		bt, kind, err := model.UploadMaskAs(in.be, t, in.conv)
		if err != nil {
			return opt, fmt.Errorf("input %q: %w", m.name, err)
		}
		in.uploaded = append(in.uploaded, bt)
		*m.t, *m.kind = bt, kind
	}
	return opt, nil
}

// decoderMasks reads the masks of a decoder: tgt_* (and --causal) for the
// self-attention, memory_* for the cross-attention.
func (in *runInputs) decoderMasks(causal bool) (self, memory model.MHAOptions, err error) {
	if self, err = in.masks("tgt_mask", "tgt_key_padding_mask", causal); err != nil {
		return self, memory, err
	}
	memory, err = in.masks("memory_mask", "memory_key_padding_mask", false)
	return self, memory, err
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
