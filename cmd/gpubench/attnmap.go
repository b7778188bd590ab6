package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/clattn/clattn"
	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/golden"
	"github.com/clattn/clattn/internal/outfile"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
	"github.com/clattn/clattn/viz"
)

func init() {
	register("attn-map", "attention heat maps of every head of a layer: PNGs and JSON", cmdAttnMap)
}

type attnMapFlags struct {
	weights, input, layer, activation, out, device, boolMask string
	heads, layerIndex, batchIndex                            int
	normFirst, causal, seqFirst, addZeroAttn                 bool
}

const attnMapUsage = "(CASE.safetensors | --weights W.safetensors --input X.safetensors\n" +
	"       --layer encoder|decoder|decoder-stack|transformer|mha --heads N)\n" +
	"       --out DIR [--layer-index N] [--batch-index B] [--seq-first] [--norm-first] [--activation relu|gelu] [--causal]\n" +
	"       [--add-zero-attn] [--bool-mask masked|attend] [--device D]\n\n" +
	"Inputs are batch-first [B,S,E] unless --seq-first (or a case's batch_first False) says [S,B,E]. Boolean masks\n" +
	"(BOOL or U8) read as --bool-mask says: masked (true = masked, nn.MultiheadAttention; the default) or attend\n" +
	"(true = attend, F.scaled_dot_product_attention); float masks are additive (-inf masks), key padding masks too\n" +
	"(those of one file all of one kind; sdpa: boolean only). A transformer draws encoder layer N's self-attention and\n" +
	"decoder layer N's self- and cross-attention (N = --layer-index)."

func cmdAttnMap(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("attn-map", stderr, attnMapUsage)
	var f attnMapFlags
	fs.StringVar(&f.weights, "weights", "", "safetensors file of the layer's PyTorch state_dict")
	fs.StringVar(&f.input, "input", "", "safetensors file of the inputs: x (encoder), tgt and memory (decoder), q and kv or x (mha), and optional masks named as in testdata/golden/README.md")
	fs.StringVar(&f.layer, "layer", "", "what the weights are: encoder or decoder (a layer or a layers.N. stack), decoder-stack, transformer or mha")
	fs.IntVar(&f.heads, "heads", 0, "attention heads (a case file's metadata gives it)")
	fs.IntVar(&f.layerIndex, "layer-index", 0, "which layer of a stack or transformer")
	fs.BoolVar(&f.seqFirst, "seq-first", false, "inputs are [S,B,E] (PyTorch's batch_first=False); default [B,S,E]")
	fs.BoolVar(&f.addZeroAttn, "add-zero-attn", false, "mha: append an all-zero key and value (PyTorch's add_zero_attn)")
	fs.StringVar(&f.boolMask, "bool-mask", "masked", "boolean masks: masked (true = masked) or attend (true = attend)")
	fs.IntVar(&f.batchIndex, "batch-index", 0, "which batch element to draw")
	fs.BoolVar(&f.normFirst, "norm-first", false, "pre-norm layer (PyTorch's norm_first=True)")
	fs.StringVar(&f.activation, "activation", "relu", "feed-forward activation: relu or gelu")
	fs.BoolVar(&f.causal, "causal", false, "add a causal mask to the self-attention")
	fs.StringVar(&f.out, "out", "", "directory for the PNGs and attention.json (created if needed)")
	fs.StringVar(&f.device, "device", "", "device spec (default $CLATTN_DEVICE or auto)")
	// The case file may come before the flags: parse what follows it too.
	var files []string
	for rest := args; ; {
		if err := parse(fs, rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files, rest = append(files, fs.Arg(0)), fs.Args()[1:]
	}
	src, err := attnSourceFromFlags(fs, &f, files)
	if err != nil {
		return err
	}
	inputs := append([]string{f.weights, f.input}, files...)
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	if err := checkOutput(filepath.Join(f.out, attnMapJSONName), inputs...); err != nil {
		return err
	}
	b, err := clattn.Open(f.device)
	if err != nil {
		return err
	}
	defer b.Close()
	maps, err := src.attentionMaps(b, f.layerIndex, f.batchIndex)
	if err != nil {
		return err
	}
	return writeAttnMaps(stdout, f.out, src, b.Name(), f.layerIndex, f.batchIndex, maps, inputs)
}

// attnSource is a model and its inputs: from a golden case file, or from a
// weights file and an inputs file.
type attnSource struct {
	name        string            // for titles: the case or weights file's name
	kind        string            // encoder, decoder, transformer, mha or sdpa
	opt         model.LoadOptions // what the weights do not say (mha: heads, bias and layout)
	causal      bool
	addZeroAttn bool                 // mha
	conv        model.BoolConvention // how boolean masks read
	scale       float32              // sdpa: 0 means 1/sqrt(d)
	inputs      map[string]*safetensors.Tensor
	params      map[string]*safetensors.Tensor // the weights by name; empty for sdpa
}

// modelWeights are the source's weights for a model loader.
func (s *attnSource) modelWeights() (*model.Weights, error) {
	ts := make([]*safetensors.Tensor, 0, len(s.params))
	for _, t := range s.params {
		ts = append(ts, t)
	}
	return model.NewWeights(ts...)
}

// attnInputNames are the tensors of each kind that are inputs or masks, not weights.
var attnInputNames = map[string][]string{
	"encoder": {"x", "attn_mask", "key_padding_mask"},
	"decoder": {"tgt", "memory", "tgt_mask", "tgt_key_padding_mask", "memory_mask", "memory_key_padding_mask"},
	"transformer": {"src", "tgt", "src_mask", "src_key_padding_mask", "tgt_mask", "tgt_key_padding_mask", "memory_mask",
		"memory_key_padding_mask"},
	"mha":  {"q", "kv", "k", "v", "x", "attn_mask", "key_padding_mask"},
	"sdpa": {"q", "k", "v", "attn_mask", "key_padding_mask"},
}

// attnSourceFromFlags reads the model the command line names; a bad command
// line is errUsage.
func attnSourceFromFlags(fs *flag.FlagSet, f *attnMapFlags, files []string) (*attnSource, error) {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	switch {
	case f.out == "":
		return nil, usageErrorf(fs, "--out DIR is required")
	case len(files) > 1:
		return nil, usageErrorf(fs, "want one case file, got %d arguments", len(files))
	case len(files) == 1 && (f.weights != "" || f.input != ""):
		return nil, usageErrorf(fs, "give a case file or --weights and --input, not both")
	case len(files) == 0 && (f.weights == "" || f.input == ""):
		return nil, usageErrorf(fs, "give a case file, or both --weights and --input")
	case f.layerIndex < 0 || f.batchIndex < 0:
		return nil, usageErrorf(fs, "--layer-index and --batch-index must be >= 0")
	case set["heads"] && f.heads <= 0:
		return nil, usageErrorf(fs, "--heads must be > 0")
	}
	act, err := backend.ParseActivation(f.activation)
	if err != nil || act == backend.Identity {
		return nil, usageErrorf(fs, "--activation %q: want relu or gelu", f.activation)
	}
	if f.layer == "decoder-stack" {
		f.layer = "decoder" // a decoder's weights tell a stack from a layer
	}
	if set["layer"] && attnInputNames[f.layer] == nil || f.layer == "sdpa" {
		return nil, usageErrorf(fs, "--layer %q: want encoder, decoder, decoder-stack, transformer or mha", f.layer)
	}
	conv, err := model.ParseBoolConvention(f.boolMask)
	if err != nil {
		return nil, usageErrorf(fs, "--bool-mask: %v", err)
	}
	var src *attnSource
	if len(files) == 1 {
		if src, err = readCaseSource(files[0]); err != nil {
			return nil, err
		}
		if set["layer"] && f.layer != src.kind {
			return nil, usageErrorf(fs, "--layer %s, but %s is a %s case", f.layer, files[0], src.kind)
		}
	} else {
		if f.layer == "" {
			return nil, usageErrorf(fs, "--layer encoder|decoder|decoder-stack|transformer|mha is required with --weights")
		}
		if !set["heads"] {
			return nil, usageErrorf(fs, "--heads N is required with --weights")
		}
		if src, err = readWeightsSource(f.weights, f.input, f.layer); err != nil {
			return nil, err
		}
	}
	if set["heads"] {
		src.opt.Heads = f.heads
	}
	if set["norm-first"] {
		src.opt.NormFirst = f.normFirst
	}
	if set["activation"] || src.opt.Activation == backend.Identity {
		src.opt.Activation = act
	}
	if set["causal"] {
		src.causal = f.causal
	}
	if set["seq-first"] {
		src.opt.Layout = model.BatchFirst
		if f.seqFirst {
			src.opt.Layout = model.SeqFirst
		}
	}
	if set["add-zero-attn"] {
		src.addZeroAttn = f.addZeroAttn
	}
	src.conv = conv
	return src, nil
}

// readCaseSource reads a golden case file (golden.ReadCase): configuration
// from its metadata, inputs and masks by name, every other tensor but the
// outputs as weights.
func readCaseSource(path string) (*attnSource, error) {
	c, err := golden.ReadCase(path)
	if err != nil {
		return nil, err
	}
	src := &attnSource{name: c.Name, kind: c.Kind,
		inputs: map[string]*safetensors.Tensor{}, params: map[string]*safetensors.Tensor{}}
	names := attnInputNames[src.kind]
	if names == nil {
		return nil, fmt.Errorf("%s: kind %q has no attention to draw (want encoder, decoder, mha or sdpa)", path, src.kind)
	}
	if src.opt, err = c.LoadOptions(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if src.causal, err = c.Bool("causal", false); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if src.addZeroAttn, err = c.Bool("add_zero_attn", false); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	scale, err := c.Float("scale", 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	src.scale = float32(scale)
	for _, t := range c.File.Tensors {
		switch {
		case slices.Contains(names, t.Name):
			src.inputs[t.Name] = t
		case !golden.IsOutput(t.Name):
			src.params[t.Name] = t
		}
	}
	if src.kind != "sdpa" && (src.inputs["attn_mask"] != nil || src.inputs["tgt_mask"] != nil) {
		src.causal = false // the module cases store the mask PyTorch was given: causal or not, it is the mask
	}
	if kp := src.inputs["src_key_padding_mask"]; kp != nil && src.kind == "transformer" && src.inputs["memory_key_padding_mask"] == nil {
		src.inputs["memory_key_padding_mask"] = kp // the transformer cases pass it as both
	}
	return src, nil
}

// readWeightsSource reads a state_dict file and an inputs file for a layer kind.
func readWeightsSource(weightsPath, inputPath, kind string) (*attnSource, error) {
	wf, err := safetensors.ReadFile(weightsPath)
	if err != nil {
		return nil, err
	}
	in, err := safetensors.ReadFile(inputPath)
	if err != nil {
		return nil, err
	}
	src := &attnSource{name: strings.TrimSuffix(filepath.Base(weightsPath), ".safetensors"), kind: kind,
		inputs: map[string]*safetensors.Tensor{}, params: map[string]*safetensors.Tensor{}}
	for _, t := range wf.Tensors {
		src.params[t.Name] = t
	}
	src.opt.FinalNorm = src.params["norm.weight"] != nil // a stack's own LayerNorm
	src.opt.NoBias = kind != "mha" && !slices.ContainsFunc(wf.Tensors, func(t *safetensors.Tensor) bool {
		return strings.HasSuffix("."+t.Name, ".linear1.bias")
	})
	var extra []string
	for _, t := range in.Tensors {
		if slices.Contains(attnInputNames[kind], t.Name) {
			src.inputs[t.Name] = t
		} else {
			extra = append(extra, t.Name)
		}
	}
	if len(extra) > 0 {
		return nil, fmt.Errorf("%s: unexpected tensor(s) %s for a %s (want %s)", inputPath,
			strings.Join(extra, ", "), kind, strings.Join(attnInputNames[kind], ", "))
	}
	return src, nil
}

// attnMap is the attention of every head of one attention block for one batch element.
type attnMap struct {
	name                 string // self, cross or attn: the files' prefix
	title                string // "layer 1 self-attention"
	heads, queries, keys int
	weights              []float64 // [heads, queries, keys]
	masked               []bool    // [heads, queries, keys]
}

// hostMasks are the masks of one attention block, on the device (opt) and as
// host data for telling which cells are masked.
type hostMasks struct {
	opt     model.MHAOptions
	mask    []float32 // [Sq, Sk], [B*H, Sq, Sk] or [B, H, Sq, Sk], 1 = masked where boolean; nil for none
	padding []float32 // [B, Sk], 1 = padding where boolean; nil for none
	extra   int       // keys appended after the masked ones (bias_k, the zero key): never masked
}

// masks uploads the optional mask and key padding tensors of the source.
func (s *attnSource) masks(be backend.Backend, maskName, paddingName string, causal bool, owned *[]backend.Tensor) (hostMasks, error) {
	var m hostMasks
	if causal {
		m.opt.Causal = backend.CausalTopLeft
	}
	for _, in := range []struct {
		name string
		t    *backend.Tensor
		kind *backend.MaskKind
		host *[]float32
	}{{maskName, &m.opt.Mask, &m.opt.MaskKind, &m.mask}, {paddingName, &m.opt.KeyPadding, &m.opt.KeyPaddingKind, &m.padding}} {
		t := s.inputs[in.name]
		if t == nil {
			continue
		}
		bt, kind, err := model.UploadMaskAs(be, t, s.conv)
		if err != nil {
			return m, err
		}
		*owned = append(*owned, bt)
		*in.t, *in.kind = bt, kind
		if *in.host, err = t.Float32s(); err != nil {
			return m, err
		}
		if kind == backend.MaskBool && s.conv == model.TrueAttends {
			for i, v := range *in.host {
				(*in.host)[i] = b2f(v == 0)
			}
		}
	}
	return m, nil
}

// b2f is 1 for true, 0 for false.
func b2f(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

// sdpaOpt are the masks as the backend's attention takes them (boolean key padding).
func (m hostMasks) sdpaOpt(name string) (backend.AttentionOptions, error) {
	if m.opt.KeyPadding != nil && m.opt.KeyPaddingKind != backend.MaskBool {
		return m.opt.AttentionOptions, fmt.Errorf("%s is a float (additive) mask: sdpa takes boolean key padding masks", name)
	}
	return m.opt.AttentionOptions, nil
}

// masked tells, for batch element b, which cells [heads, sq, sk] the masks
// rule out; the last m.extra keys are never masked.
func (m hostMasks) masked(b, batch, heads, sq, sk int) ([]bool, error) {
	out := make([]bool, heads*sq*sk)
	skm := sk - m.extra // the keys the masks cover
	perHead := len(m.mask) == batch*heads*sq*skm && len(m.mask) != sq*skm
	if m.mask != nil && len(m.mask) != sq*skm && !perHead {
		return nil, fmt.Errorf("mask has %d elements, want %d x %d or %d x %d x %d x %d", len(m.mask), sq, skm, batch, heads, sq, skm)
	}
	if m.padding != nil && len(m.padding) != batch*skm {
		return nil, fmt.Errorf("key padding mask has %d elements, want %d x %d", len(m.padding), batch, skm)
	}
	for h := range heads {
		for i := range sq {
			for j := range skm {
				out[(h*sq+i)*sk+j] = m.isMasked(b, h, i, j, heads, sq, skm, perHead)
			}
		}
	}
	return out, nil
}

func (m hostMasks) isMasked(b, h, i, j, heads, sq, sk int, perHead bool) bool {
	switch m.opt.Causal {
	case backend.CausalTopLeft:
		if j > i {
			return true
		}
	case backend.CausalBottomRight:
		if j > i+sk-sq {
			return true
		}
	}
	out := func(v float32, kind backend.MaskKind) bool {
		return kind == backend.MaskBool && v != 0 || kind == backend.MaskAdditive && math.IsInf(float64(v), -1)
	}
	if m.mask != nil {
		k := i*sk + j
		if perHead {
			k += (b*heads + h) * sq * sk
		}
		if out(m.mask[k], m.opt.MaskKind) {
			return true
		}
	}
	return m.padding != nil && out(m.padding[b*sk+j], m.opt.KeyPaddingKind)
}

// input uploads a [B, S, E] input tensor.
func (s *attnSource) input(be backend.Backend, name string, owned *[]backend.Tensor) (backend.Tensor, error) {
	t := s.inputs[name]
	if t == nil {
		return nil, fmt.Errorf("no input tensor %q", name)
	}
	if len(t.Shape) != 3 {
		return nil, fmt.Errorf("input %q is %v, want 3 dimensions ([batch seq d_model], or [seq batch d_model] seq-first)", name, backend.Shape(t.Shape))
	}
	bt, err := model.Upload(be, t)
	if err != nil {
		return nil, err
	}
	*owned = append(*owned, bt)
	return bt, nil
}

// attentionMaps runs the source's model and returns the attention of the
// chosen layer and batch element.
func (s *attnSource) attentionMaps(be backend.Backend, layer, batch int) (maps []attnMap, err error) {
	var owned []backend.Tensor
	defer func() {
		for _, t := range owned {
			err = errors.Join(err, t.Release())
		}
	}()
	if (s.kind == "mha" || s.kind == "sdpa") && layer != 0 {
		return nil, fmt.Errorf("--layer-index %d: a %s has one layer", layer, s.kind)
	}
	switch s.kind {
	case "sdpa":
		return s.sdpaMaps(be, batch, &owned)
	case "mha":
		return s.mhaMaps(be, batch, &owned)
	case model.KindEncoder, model.KindDecoder, model.KindTransformer:
		return s.modelMaps(be, layer, batch, &owned)
	}
	return nil, fmt.Errorf("kind %q has no attention to draw", s.kind)
}

// downloadMap downloads weights [B, H, Sq, Sk] and keeps batch element b.
func downloadMap(be backend.Backend, w backend.Tensor, m hostMasks, b int, name, title string) (attnMap, error) {
	s := w.Shape()
	batch, heads, sq, sk := s[0], s[1], s[2], s[3]
	if b >= batch {
		return attnMap{}, fmt.Errorf("--batch-index %d: the batch has %d element(s)", b, batch)
	}
	all := make([]float32, s.Numel())
	if err := be.Download(all, w); err != nil {
		return attnMap{}, err
	}
	masked, err := m.masked(b, batch, heads, sq, sk)
	if err != nil {
		return attnMap{}, err
	}
	one := all[b*heads*sq*sk : (b+1)*heads*sq*sk]
	weights := make([]float64, len(one))
	for i, v := range one {
		// A row with a NaN score is NaN throughout, masked keys included (as in PyTorch).
		if masked[i] && v != 0 && v == v {
			return attnMap{}, fmt.Errorf("%s: weight %g at masked position (head %d, query %d, key %d): the backend leaked a masked score",
				title, v, i/(sq*sk), i/sk%sq, i%sk)
		}
		weights[i] = float64(v)
	}
	return attnMap{name: name, title: title, heads: heads, queries: sq, keys: sk, weights: weights, masked: masked}, nil
}

func (s *attnSource) sdpaMaps(be backend.Backend, batch int, owned *[]backend.Tensor) ([]attnMap, error) {
	var hs [2]backend.Heads
	for i, name := range []string{"q", "k"} {
		t := s.inputs[name]
		if t == nil || len(t.Shape) != 4 {
			return nil, fmt.Errorf("want a [batch heads seq dim] input %q", name)
		}
		bt, err := model.Upload(be, t)
		if err != nil {
			return nil, err
		}
		*owned = append(*owned, bt)
		if hs[i], err = backend.HeadsOf(bt); err != nil {
			return nil, err
		}
	}
	q, k := hs[0], hs[1]
	m, err := s.masks(be, "attn_mask", "key_padding_mask", s.causal, owned)
	if err != nil {
		return nil, err
	}
	m.opt.Scale = s.scale
	opt, err := m.sdpaOpt("key_padding_mask")
	if err != nil {
		return nil, err
	}
	w, err := be.Alloc(q.Batch, q.Heads, q.Seq, k.Seq)
	if err != nil {
		return nil, err
	}
	*owned = append(*owned, w)
	if err := be.Scores(w, q, k, m.opt.EffectiveScale(q.Dim)); err != nil {
		return nil, err
	}
	if err := be.Softmax(w, w, opt); err != nil {
		return nil, err
	}
	am, err := downloadMap(be, w, m, batch, "attn", "scaled dot-product attention")
	return []attnMap{am}, err
}

func (s *attnSource) mhaMaps(be backend.Backend, batch int, owned *[]backend.Tensor) ([]attnMap, error) {
	qName, kName, vName := "q", "kv", "kv"
	switch {
	case s.inputs["q"] == nil:
		qName, kName, vName = "x", "", ""
	case s.inputs["k"] != nil || s.inputs["v"] != nil:
		kName, vName = "k", "v"
	}
	query, err := s.input(be, qName, owned)
	if err != nil {
		return nil, err
	}
	var key, value backend.Tensor
	if s.inputs[kName] != nil || kName == "k" {
		if key, err = s.input(be, kName, owned); err != nil {
			return nil, err
		}
		value = key
		if vName != kName {
			if value, err = s.input(be, vName, owned); err != nil {
				return nil, err
			}
		}
	}
	m, err := s.masks(be, "attn_mask", "key_padding_mask", s.causal, owned)
	if err != nil {
		return nil, err
	}
	prefix := ""
	if s.params["self_attn.out_proj.weight"] != nil {
		prefix = "self_attn."
	}
	cfg := model.MHAConfig{DModel: query.Shape()[2], Heads: s.opt.Heads, Layout: s.opt.Layout, AddZeroAttn: s.addZeroAttn,
		NoBias: s.opt.NoBias || s.params[prefix+"in_proj_bias"] == nil, AddBiasKV: s.params[prefix+"bias_k"] != nil}
	if key != nil {
		cfg.KDim, cfg.VDim = key.Shape()[2], value.Shape()[2]
	}
	if cfg.AddBiasKV {
		m.extra++
	}
	if cfg.AddZeroAttn {
		m.extra++
	}
	w, err := s.modelWeights()
	if err != nil {
		return nil, err
	}
	mha, err := model.LoadMultiHeadAttention(be, cfg, w, prefix)
	if err != nil {
		return nil, err
	}
	defer mha.Close()
	opt := m.opt
	opt.NeedWeights = true
	out, weights, err := mha.Attend(query, key, value, opt)
	if err != nil {
		return nil, err
	}
	*owned = append(*owned, out, weights)
	am, err := downloadMap(be, weights, m, batch, "attn", "multi-head attention")
	return []attnMap{am}, err
}

// decoderMasks uploads the masks of a decoder's self-attention (tgt_*, and
// the causal flag) and cross-attention (memory_*).
func (s *attnSource) decoderMasks(be backend.Backend, owned *[]backend.Tensor) (self, cross hostMasks, err error) {
	if self, err = s.masks(be, "tgt_mask", "tgt_key_padding_mask", s.causal, owned); err != nil {
		return self, cross, err
	}
	cross, err = s.masks(be, "memory_mask", "memory_key_padding_mask", false, owned)
	return self, cross, err
}

// layerIndexIn checks --layer-index against a stack of n layers (0: one layer).
func layerIndexIn(layer, n int, what string) error {
	switch {
	case n == 0 && layer != 0:
		return fmt.Errorf("--layer-index %d: the weights are one %s layer (no layers.N. names)", layer, what)
	case n > 0 && layer >= n:
		return fmt.Errorf("--layer-index %d: the %s stack has %d layers", layer, what, n)
	}
	return nil
}

// modelMaps runs the source's encoder, decoder (a layer or a stack) or
// transformer (model.Inspect, Spec.Load) through the unfused attention path
// and returns the maps of the chosen layer's attention blocks: an encoder
// layer's self-attention, a decoder layer's self- and cross-attention, and
// for a transformer those of encoder and decoder layer N that exist.
func (s *attnSource) modelMaps(be backend.Backend, layer, batch int, owned *[]backend.Tensor) ([]attnMap, error) {
	if s.opt.Heads <= 0 {
		return nil, errors.New("the number of heads is unknown: give --heads")
	}
	w, err := s.modelWeights()
	if err != nil {
		return nil, err
	}
	spec, err := model.Inspect(s.kind, w, s.opt)
	if err != nil {
		return nil, err
	}
	switch s.kind {
	case model.KindTransformer:
		if layer >= max(spec.EncoderLayers, spec.DecoderLayers) {
			return nil, fmt.Errorf("--layer-index %d: the transformer has %d encoder and %d decoder layers", layer, spec.EncoderLayers, spec.DecoderLayers)
		}
	default:
		if err := layerIndexIn(layer, spec.Layers, s.kind); err != nil {
			return nil, err
		}
	}
	var in model.Inputs
	var srcMasks, self, cross hostMasks
	if s.kind != model.KindDecoder {
		name, maskName, paddingName, causal := "x", "attn_mask", "key_padding_mask", s.causal
		if s.kind == model.KindTransformer {
			name, maskName, paddingName, causal = "src", "src_mask", "src_key_padding_mask", false
		}
		if in.Src, err = s.input(be, name, owned); err != nil {
			return nil, err
		}
		if srcMasks, err = s.masks(be, maskName, paddingName, causal, owned); err != nil {
			return nil, err
		}
	}
	if s.kind != model.KindEncoder {
		if in.Tgt, err = s.input(be, "tgt", owned); err != nil {
			return nil, err
		}
		if s.kind == model.KindDecoder {
			if in.Memory, err = s.input(be, "memory", owned); err != nil {
				return nil, err
			}
		}
		if self, cross, err = s.decoderMasks(be, owned); err != nil {
			return nil, err
		}
	}
	if in.KeyPaddingKind, err = model.KeyPaddingKindOf(srcMasks.opt, self.opt, cross.opt); err != nil {
		return nil, err
	}
	in.SrcMasks, in.TgtMasks, in.MemoryMasks = srcMasks.opt.AttentionOptions, self.opt.AttentionOptions, cross.opt.AttentionOptions
	m, err := spec.Load(be, w)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	out, ws, err := m.ForwardWithWeights(in)
	*owned = append(*owned, ws.All()...)
	if err != nil {
		return nil, err
	}
	*owned = append(*owned, out)
	var maps []attnMap
	add := func(w []backend.Tensor, masks hostMasks, name, title string) error {
		if layer >= len(w) {
			return nil
		}
		am, err := downloadMap(be, w[layer], masks, batch, name, fmt.Sprintf(title, layer))
		maps = append(maps, am)
		return err
	}
	prefix := ""
	if s.kind == model.KindTransformer {
		prefix = "encoder_"
	}
	if err := add(ws.EncoderSelf, srcMasks, prefix+"self", "encoder layer %d self-attention"); err != nil {
		return nil, err
	}
	if s.kind == model.KindTransformer {
		prefix = "decoder_"
	}
	if err := add(ws.DecoderSelf, self, prefix+"self", "decoder layer %d self-attention"); err != nil {
		return nil, err
	}
	if err := add(ws.DecoderCross, cross, prefix+"cross", "decoder layer %d cross-attention"); err != nil {
		return nil, err
	}
	return maps, nil
}

// weightRow is one query's weights, written to JSON with null where masked
// and where not a finite number (NaN or Inf in the inputs or weights).
type weightRow struct {
	w      []float64
	masked []bool
}

func (r weightRow) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	for j, v := range r.w {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendNumber(b, v, r.masked[j])
	}
	return append(b, ']'), nil
}

// numbers are per-head statistics, written to JSON with null for NaN or Inf.
type numbers []float64

func (x numbers) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	for i, v := range x {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendNumber(b, v, false)
	}
	return append(b, ']'), nil
}

// appendNumber appends v as a JSON number in float32 precision, or null where
// masked or not finite (JSON has no NaN or Inf).
func appendNumber(b []byte, v float64, masked bool) []byte {
	if masked || math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 32)
}

// attnMapJSON is attention.json.
type attnMapJSON struct {
	Source     string         `json:"source"`
	Kind       string         `json:"kind"`
	Device     string         `json:"device"`
	LayerIndex int            `json:"layer_index"`
	BatchIndex int            `json:"batch_index"`
	Maps       []attnMapEntry `json:"maps"`
}

type attnMapEntry struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Heads   int    `json:"heads"`
	Queries int    `json:"queries"`
	Keys    int    `json:"keys"`
	// MeanEntropy is each head's mean row entropy in nats; MeanMaxWeight the
	// mean largest weight of a row (null where NaN or Inf).
	MeanEntropy   numbers `json:"mean_entropy"`
	MeanMaxWeight numbers `json:"mean_max_weight"`
	// Weights are [head][query][key]; null marks a masked position or a
	// weight that is NaN or Inf.
	Weights [][]weightRow `json:"weights"`
}

// attnMapFile is one output file of attn-map, drawn or encoded in memory.
type attnMapFile struct {
	path  string
	write func(io.Writer) error
}

// attnMapJSONName is the file attn-map writes its numbers to in --out.
const attnMapJSONName = "attention.json"

// writeAttnMaps draws one PNG per head and a grid per attention block into dir,
// writes attention.json and prints a summary. Every picture is drawn and the
// JSON encoded before the first file is written, and each file goes through a
// temporary file renamed into place (package internal/outfile): a failure
// leaves the files that were in dir as they were. No output may be one of
// inputs.
func writeAttnMaps(w io.Writer, dir string, src *attnSource, device string, layer, batch int, maps []attnMap, inputs []string) error {
	doc := attnMapJSON{Source: src.name, Kind: src.kind, Device: device, LayerIndex: layer, BatchIndex: batch}
	var summary strings.Builder
	var files []attnMapFile
	fmt.Fprintf(&summary, "%s (%s) on %s, batch element %d\n", src.name, src.kind, device, batch)
	for _, m := range maps {
		entry := attnMapEntry{Name: m.name, Title: m.title, Heads: m.heads, Queries: m.queries, Keys: m.keys}
		n := m.queries * m.keys
		var tiles []viz.HeatMap
		fmt.Fprintf(&summary, "%s: %d heads, %d queries x %d keys (uniform attention has entropy ln %d = %.3f)\n",
			m.title, m.heads, m.queries, m.keys, m.keys, math.Log(float64(m.keys)))
		for h := range m.heads {
			vals, masked := m.weights[h*n:(h+1)*n], m.masked[h*n:(h+1)*n]
			ent, top := viz.MeanEntropy(vals, m.keys), viz.MeanMax(vals, m.keys)
			entry.MeanEntropy = append(entry.MeanEntropy, ent)
			entry.MeanMaxWeight = append(entry.MeanMaxWeight, top)
			rows := make([]weightRow, m.queries)
			for i := range rows {
				rows[i] = weightRow{w: vals[i*m.keys : (i+1)*m.keys], masked: masked[i*m.keys : (i+1)*m.keys]}
			}
			entry.Weights = append(entry.Weights, rows)
			hm := viz.HeatMap{
				Title:      fmt.Sprintf("%s: %s, head %d\nmean entropy %.3f nats (uniform: %.3f), batch element %d", src.name, m.title, h, ent, math.Log(float64(m.keys)), batch),
				XLabel:     "key position",
				YLabel:     "query position",
				ScaleLabel: "attention weight",
				Rows:       m.queries, Cols: m.keys, Values: vals, Masked: masked,
			}
			fig, err := viz.DrawHeatMap(hm, 0, 0)
			if err != nil {
				return err
			}
			path := filepath.Join(dir, fmt.Sprintf("%s_head%d.png", m.name, h))
			files = append(files, attnMapFile{path, fig.EncodePNG})
			fmt.Fprintf(&summary, "  head %d: mean entropy %.3f nats, mean largest weight %.3f  %s\n", h, ent, top, path)
			hm.Title = fmt.Sprintf("head %d: entropy %.3f nats", h, ent)
			tiles = append(tiles, hm)
		}
		title := fmt.Sprintf("%s: %s, batch element %d (one colour scale)", src.name, m.title, batch)
		fig, err := viz.DrawGrid(title, tiles, 0, 0)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, m.name+"_heads.png")
		files = append(files, attnMapFile{path, fig.EncodePNG})
		fmt.Fprintf(&summary, "  all heads: %s\n", path)
		doc.Maps = append(doc.Maps, entry)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, attnMapJSONName)
	files = append(files, attnMapFile{path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	}})
	fmt.Fprintf(&summary, "weights: %s\n", path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := outfile.WriteFile(f.path, f.write, inputs...); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, summary.String())
	return err
}
