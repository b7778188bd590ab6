// Package golden runs reference cases computed by PyTorch (see
// testdata/golden/README.md and gen.py there) on any backend.Backend and
// compares each output with PyTorch's float64 result.
//
// A case is one safetensors file; its __metadata__ holds the configuration
// (kind, heads, norm_first, activation, eps, layers, final_norm, causal, scale,
// ...) and every shape is read from the tensors, never assumed. Kinds: sdpa
// (scaled dot-product attention on [B, H, S, D] inputs), mha
// (nn.MultiheadAttention, with kdim/vdim, add_bias_kv, add_zero_attn, 3-D
// masks, averaged weights), encoder (nn.TransformerEncoderLayer or a
// nn.TransformerEncoder stack), decoder (nn.TransformerDecoderLayer or a
// nn.TransformerDecoder stack), transformer (nn.Transformer), posenc (the
// sinusoidal table) and bert (a Hugging Face BertModel on right-padded token
// ids: last hidden state "out", "pooler" and the mean-pooled sentence
// "embedding"), and the decoder-only kinds rope (backend.Rotary), rmsnorm
// (backend.RMSNorm) and llama (model.CausalLM: a full forward, and a prefill
// followed by one token at a time through the KV cache). batch_first: False
// stores [B, S, E] tensors as [S, B, E]. A kind, option or tensor the runner does not know is a
// failed result with the reason, not a silent skip.
//
// # Limit
//
// Each output is checked with package internal/tolerance, the project's one rule:
//
//	max|got - out_f64| <= 4 * max|out - out_f64| + 1e-6 * scale
//	|got - out_f64|    <= 1e-5 * scale + 1e-5 * |out_f64|   for every element
//
// where out_f64 is PyTorch's float64 result and out PyTorch's own float32 result
// of the same case (so a backend may be at most 4 times as far from the exact
// answer as PyTorch's float32 is), and NaN/Inf must sit at the same positions.
// The scale is max|V| for the attention output of sdpa cases and the largest
// |out_f64| of each row (the last dimension) for everything else: the outputs
// of mha, encoder, decoder and posenc cases and the attention weights (rows over
// the keys). attn_weights are compared with attn_weights_f64 the same way.
//
// Where a case carries both, the fused attention kernel gives "out" and the
// unfused path (Scores -> Softmax -> AttendValues, which returns the weights)
// gives "out (unfused)" and "attn_weights".
package golden

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/tolerance"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

// Result is the outcome for one output of one case.
type Result struct {
	Case   string // the case's name
	Kind   string // sdpa, mha, encoder, decoder, transformer, posenc or bert
	Output string // "out", "out (unfused)" or "attn_weights"; bert: "out", "pooler" or "embedding"
	// MaxAbs is max|got - ref64|; Torch32 is PyTorch's own float32 error
	// max|out - ref64|, for comparison.
	MaxAbs, Torch32 float64
	// Limit is the ratio-rule limit on MaxAbs (see the package doc).
	Limit float64
	Pass  bool
	// Reason says why the output failed: the tolerance report, or what could not run.
	Reason string
}

func (r Result) String() string {
	status := "PASS"
	if !r.Pass {
		status = "FAIL"
	}
	s := fmt.Sprintf("%s %s/%s %s: max-abs %.3g (torch fp32 %.3g, limit %.3g)", status, r.Case, r.Kind, r.Output, r.MaxAbs, r.Torch32, r.Limit)
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	return s
}

// RunDir runs every case listed in dir/index.json (or, without an index, every
// *.safetensors file of dir) in order.
func RunDir(be backend.Backend, dir string) ([]Result, error) {
	files, err := caseFiles(dir)
	if err != nil {
		return nil, err
	}
	var all []Result
	for _, f := range files {
		rs, err := RunFile(be, filepath.Join(dir, f))
		if err != nil {
			return all, err
		}
		all = append(all, rs...)
	}
	return all, nil
}

// caseFiles lists the case files of dir: the "file" entries of index.json, or
// the *.safetensors files where there is no index.
func caseFiles(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if errors.Is(err, os.ErrNotExist) {
		paths, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
		if err != nil {
			return nil, fmt.Errorf("golden: %w", err)
		}
		for i, p := range paths {
			paths[i] = filepath.Base(p)
		}
		sort.Strings(paths)
		return paths, nil
	}
	if err != nil {
		return nil, fmt.Errorf("golden: %w", err)
	}
	var index []struct {
		File string `json:"file"`
	}
	if err := json.Unmarshal(b, &index); err != nil {
		return nil, fmt.Errorf("golden: %s: %w", filepath.Join(dir, "index.json"), err)
	}
	files := make([]string, len(index))
	for i, e := range index {
		if e.File == "" || filepath.Base(e.File) != e.File {
			return nil, fmt.Errorf("golden: index.json entry %d: bad file name %q", i, e.File)
		}
		files[i] = e.File
	}
	return files, nil
}

// RunFile runs the case in the safetensors file at path. The error is for a file
// that cannot be read or parsed; everything else is a failed Result.
func RunFile(be backend.Backend, path string) ([]Result, error) {
	c, err := ReadCase(path)
	if err != nil {
		return nil, err
	}
	return c.Run(be), nil
}

// Run runs one parsed case; name is used where the metadata has none.
func Run(be backend.Backend, f *safetensors.File, name string) []Result {
	return NewCase(f, name).Run(be)
}

// Run runs the case on be.
func (c *Case) Run(be backend.Backend) []Result {
	r := &runner{Case: c, be: be, used: map[string]bool{}}
	err := r.run()
	err = errors.Join(err, r.releaseAll())
	if err != nil {
		return r.failAll(err)
	}
	return r.results
}

// runner holds the state of one case.
type runner struct {
	*Case
	be       backend.Backend
	used     map[string]bool // tensors the runner has read
	results  []Result
	uploaded []backend.Tensor
	closers  []interface{ Close() error }
	// halfRounded: the reference rounds intermediates to half precision (a
	// llama case's float16 KV cache), so outputs get the ratio rule alone.
	halfRounded bool
}

func (r *runner) run() error {
	if err := r.checkOptions(); err != nil {
		return err
	}
	switch r.Kind {
	case "sdpa":
		return r.sdpa()
	case "mha":
		return r.mha()
	case "encoder":
		return r.encoder()
	case "decoder":
		return r.decoder()
	case "transformer":
		return r.transformer()
	case "posenc":
		return r.posenc()
	case "bert":
		return r.bert()
	case "rope":
		return r.rope()
	case "rmsnorm":
		return r.rmsnorm()
	case "llama":
		return r.llama()
	case "":
		return errors.New("no kind in the metadata")
	}
	return fmt.Errorf("unknown kind %q", r.Kind)
}

// failAll adds a failed result, with err as the reason, for every output the
// case should have reported and has not.
func (r *runner) failAll(err error) []Result {
	outputs := []string{"out"}
	switch r.Kind {
	case "bert":
		outputs = bertOutputs
	case "posenc", "rope", "rmsnorm":
	case "llama":
		outputs = append(outputs, "out (cache)")
	default:
		outputs = append(outputs, "out (unfused)")
	}
	if r.File.Tensor("attn_weights_f64") != nil {
		outputs = append(outputs, "attn_weights")
	}
	done := map[string]bool{}
	for _, res := range r.results {
		done[res.Output] = true
	}
	for _, o := range outputs {
		if !done[o] {
			r.results = append(r.results, Result{Case: r.Name, Kind: r.Kind, Output: o, Limit: math.NaN(), Reason: err.Error()})
		}
	}
	return r.results
}

func (r *runner) releaseAll() error {
	var errs []error
	for _, c := range r.closers {
		errs = append(errs, c.Close())
	}
	for _, t := range r.uploaded {
		errs = append(errs, t.Release())
	}
	r.closers, r.uploaded = nil, nil
	return errors.Join(errs...)
}

// informational metadata keys describe how the inputs were generated or sized;
// the runner reads shapes from the tensors instead.
var informational = map[string]bool{
	"name": true, "kind": true, "seed": true, "torch": true, "batch": true, "heads": true,
	"seq": true, "seq_q": true, "seq_k": true, "seq_tgt": true, "seq_mem": true,
	"head_dim": true, "head_dim_v": true, "d_model": true, "d_ff": true, "max_len": true,
	"logit_scale": true, "mask": true, "seq_src": true, "per_batch_positions": true,
}

// options are the metadata keys each kind understands.
var options = map[string][]string{
	"sdpa": {"scale", "causal", "causal_align", "heads_kv", "mask_shape", "kv_dtype"},
	"mha": {"bias", "causal", "key_padding", "self", "batch_first", "kdim", "vdim", "separate_kv",
		"add_bias_kv", "add_zero_attn", "average_weights", "key_padding_float"},
	"encoder": {"activation", "eps", "norm_first", "layers", "final_norm", "causal", "key_padding", "bias", "batch_first",
		"key_padding_float"},
	"decoder": {"activation", "eps", "norm_first", "layers", "final_norm", "causal", "memory_key_padding",
		"tgt_key_padding", "bias", "batch_first", "key_padding_float"},
	"transformer": {"activation", "eps", "norm_first", "encoder_layers", "decoder_layers", "causal",
		"src_key_padding", "tgt_key_padding", "memory_key_padding", "bias", "batch_first", "key_padding_float"},
	"posenc": {},
	"bert": {"layers", "ln_eps", "normalize", "right_pad", "token_types", "vocab", "hidden", "intermediate",
		"max_position", "type_vocab"},
	"rope":    {"theta", "style", "rotary_dim", "offset", "rope_scaling"},
	"rmsnorm": {"eps", "rows"},
	"llama": {"vocab", "hidden", "layers", "kv_heads", "intermediate", "rope_theta", "rms_eps",
		"tie_word_embeddings", "attention_bias", "kv_dtype", "left_pad", "prefill", "rope_scaling"},
}

// checkOptions fails on metadata this runner does not understand.
func (r *runner) checkOptions() error {
	known := options[r.Kind]
	var unknown []string
	for k := range r.File.Metadata {
		if !informational[k] && !contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 && known != nil {
		return fmt.Errorf("unsupported option(s) for kind %s: %s", r.Kind, strings.Join(unknown, ", "))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// tensor returns the named tensor, which must exist with the given rank (0: any).
func (r *runner) tensor(name string, rank int) (*safetensors.Tensor, error) {
	t := r.File.Tensor(name)
	if t == nil {
		return nil, fmt.Errorf("missing tensor %q", name)
	}
	if rank > 0 && len(t.Shape) != rank {
		return nil, fmt.Errorf("tensor %q is %v, want %d dimensions", name, backend.Shape(t.Shape), rank)
	}
	r.used[name] = true
	return t, nil
}

// upload puts a file tensor on the device, to be released when the case ends.
func (r *runner) upload(t *safetensors.Tensor) (backend.Tensor, error) {
	bt, err := model.Upload(r.be, t)
	if err != nil {
		return nil, err
	}
	r.uploaded = append(r.uploaded, bt)
	return bt, nil
}

// own registers a tensor made by the backend for release when the case ends.
func (r *runner) own(t backend.Tensor) backend.Tensor {
	if t != nil {
		r.uploaded = append(r.uploaded, t)
	}
	return t
}

// masks reads an optional attention mask and key padding mask (boolean U8 or
// BOOL, 1 = masked; or float, additive) and the causal option. Only sdpa cases
// ran PyTorch with is_causal; the module cases store the mask PyTorch was given
// (the causal one, or the one that replaced it), so there "causal" adds a
// causal flag only where the file has no mask.
func (r *runner) masks(maskName, paddingName, paddingFlag string) (model.MHAOptions, error) {
	var opt model.MHAOptions
	causal, err := r.Bool("causal", false)
	if err != nil {
		return opt, err
	}
	if causal && (r.Kind == "sdpa" || r.File.Tensor(maskName) == nil) {
		opt.Causal = backend.CausalTopLeft
		switch a := r.File.Metadata["causal_align"]; a {
		case "", "top_left":
		case "bottom_right":
			opt.Causal = backend.CausalBottomRight
		default:
			return opt, fmt.Errorf("metadata causal_align = %q, want top_left or bottom_right", a)
		}
	} else if a, ok := r.File.Metadata["causal_align"]; ok {
		return opt, fmt.Errorf("metadata causal_align = %q without causal", a)
	}
	if t := r.File.Tensor(maskName); t != nil && maskName != "" {
		r.used[maskName] = true
		m, kind, err := model.UploadMask(r.be, t)
		if err != nil {
			return opt, err
		}
		opt.Mask, opt.MaskKind = r.own(m), kind
	}
	if paddingName == "" {
		return opt, nil
	}
	want, err := r.Bool(paddingFlag, false)
	if err != nil {
		return opt, err
	}
	t := r.File.Tensor(paddingName)
	switch {
	case t == nil && want:
		return opt, fmt.Errorf("metadata %s is true but the file has no %s", paddingFlag, paddingName)
	case t == nil:
		return opt, nil
	}
	r.used[paddingName] = true
	kp, kind, err := model.UploadMask(r.be, t)
	opt.KeyPadding, opt.KeyPaddingKind = r.own(kp), kind
	return opt, err
}

// download reads t back from the device.
func (r *runner) download(t backend.Tensor) ([]float32, error) {
	out := make([]float32, t.Shape().Numel())
	return out, r.be.Download(out, t)
}

// compare checks got against ref+"_f64", with PyTorch's float32 ref as naive32.
// A scale > 0 is used for every element (max|V|); 0 means max|ref| of each row.
func (r *runner) compare(output, ref string, got backend.Tensor, scale float64) error {
	res := Result{Case: r.Name, Kind: r.Kind, Output: output}
	defer func() { r.results = append(r.results, res) }()
	fail := func(format string, args ...any) error {
		res.Limit = math.NaN()
		res.Reason = fmt.Sprintf(format, args...)
		return nil
	}
	ref64, err := r.tensor(ref+"_f64", 0)
	if err != nil {
		return fail("%v", err)
	}
	if !backend.Shape(ref64.Shape).Equal(got.Shape()) {
		return fail("output is %v, %s_f64 is %v", got.Shape(), ref, backend.Shape(ref64.Shape))
	}
	want, err := ref64.Float64s()
	if err != nil {
		return fail("%v", err)
	}
	check := func(x []float32, ref []float64, naive []float32) tolerance.Report {
		if scale > 0 {
			return tolerance.Check(x, ref, naive, scale)
		}
		s := got.Shape()
		return tolerance.CheckRows(x, ref, naive, s[len(s)-1])
	}
	var naive []float32
	if t := r.File.Tensor(ref); t != nil {
		r.used[ref] = true
		if !backend.Shape(t.Shape).Equal(got.Shape()) {
			return fail("%s is %v, %s_f64 is %v", ref, backend.Shape(t.Shape), ref, backend.Shape(ref64.Shape))
		}
		if naive, err = t.Float32s(); err != nil {
			return fail("%v", err)
		}
		res.Torch32 = tolerance.Check(naive, want, nil, 0).MaxAbs
		// The baseline widens the limit (4x its error): it must itself be a
		// float32 result of out_f64's computation, within the hard cap, or a
		// bad reference file would loosen the check instead of failing it.
		if base := check(naive, want, nil); !base.OK() {
			return fail("PyTorch's float32 %s is itself off %s_f64 (%v): a bad reference file", ref, ref, base)
		}
	}
	data, err := r.download(got)
	if err != nil {
		return err
	}
	rep := check(data, want, naive)
	res.MaxAbs, res.Limit, res.Pass = rep.MaxAbs, rep.Limit, rep.OK()
	if !rep.OK() {
		res.Reason = fmt.Sprintf("%s, shape %v", rep, got.Shape())
	}
	return nil
}

// checkAllUsed fails on input tensors of the file that the case did not read.
func (r *runner) checkAllUsed() error {
	var extra []string
	for _, t := range r.File.Tensors {
		if !r.used[t.Name] && !IsOutput(t.Name) {
			extra = append(extra, t.Name)
		}
	}
	if len(extra) > 0 {
		return fmt.Errorf("unexpected tensor(s) for kind %s: %s", r.Kind, strings.Join(extra, ", "))
	}
	return nil
}

// weights collects every tensor not yet read as model weights.
func (r *runner) weights() (*model.Weights, error) {
	var ts []*safetensors.Tensor
	for _, t := range r.File.Tensors {
		if !r.used[t.Name] && !IsOutput(t.Name) {
			ts = append(ts, t)
			r.used[t.Name] = true
		}
	}
	return model.NewWeights(ts...)
}

// sameData reports whether two file tensors hold the same shape and bytes.
func sameData(a, b *safetensors.Tensor) bool {
	return backend.Shape(a.Shape).Equal(b.Shape) && a.DType == b.DType && bytes.Equal(a.Data, b.Data)
}
