package bench

import (
	"fmt"
	"slices"
	"strings"

	"github.com/clattn/clattn/backend"
)

// Op names one benchmarked operation.
type Op string

// The operations the suite measures.
const (
	OpGemm      Op = "gemm"    // C = A B^T, the shape of a Linear layer
	OpScores    Op = "qkt"     // scaled Q K^T per head
	OpSoftmax   Op = "softmax" // masked softmax over [B,H,Sq,Sk]
	OpUnfused   Op = "attention-unfused"
	OpAttention Op = "attention" // fused flash attention
	OpFFN       Op = "ffn"       // fused feed-forward network
	OpLayerNorm Op = "layernorm" // LayerNorm with fused residual
	OpMHA       Op = "mha"       // multi-head self-attention with projections
	OpEncoder   Op = "encoder"   // one post-norm Transformer encoder layer
	// OpEmbed is sentence embeddings from a BERT-family model of Layers layers
	// (GELU, post-norm) on Batch rows of Seq token ids: embeddings, encoder,
	// mean pooling and L2 normalisation, token ids in and vectors out.
	OpEmbed Op = "embed"
	// OpDecode is one decoding step of fused attention: Seq query rows (1, or a
	// few) against a K/V cache of SeqKV positions, bottom-right causal; it is
	// bound by reading K/V, so its GB/s counts K/V bytes (KVBytes).
	OpDecode Op = "decode"
)

// Ops lists every operation in suite order.
var Ops = []Op{OpGemm, OpScores, OpSoftmax, OpUnfused, OpAttention, OpFFN, OpLayerNorm, OpMHA, OpEncoder, OpDecode, OpDecoderStep}

// ModelOps are whole-model operations, run one at a time (--op), not in the suites.
var ModelOps = []Op{OpEmbed}

// ParseOp reads an operation name.
func ParseOp(s string) (Op, error) {
	op := Op(strings.ToLower(strings.TrimSpace(s)))
	all := append(slices.Clone(Ops), ModelOps...)
	if slices.Contains(all, op) {
		return op, nil
	}
	names := make([]string, len(all))
	for i, o := range all {
		names[i] = string(o)
	}
	return "", fmt.Errorf("unknown op %q (want one of %s)", s, strings.Join(names, ", "))
}

// Shape holds every size an operation may use; each op reads the ones it needs.
// GEMM: M = Batch*Seq rows, K = DModel, N = DFF.
type Shape struct {
	Batch   int  `json:"batch"`
	Seq     int  `json:"seq"`
	SeqKV   int  `json:"seq_kv,omitempty"` // 0 means Seq
	DModel  int  `json:"d_model,omitempty"`
	Heads   int  `json:"heads,omitempty"`
	HeadDim int  `json:"head_dim,omitempty"`
	DFF     int  `json:"d_ff,omitempty"`
	Causal  bool `json:"causal,omitempty"`
	Layers  int  `json:"layers,omitempty"` // encoder layers of a whole model (OpEmbed)
	// HeadsKV is the number of K/V heads of the attention ops (grouped-query
	// attention); 0 means Heads.
	HeadsKV int `json:"heads_kv,omitempty"`
	// KVDType is the dtype of K and V ("f16"); "" means f32.
	KVDType string `json:"kv_dtype,omitempty"`
}

// KVHeads is the number of K/V heads.
func (s Shape) KVHeads() int {
	if s.HeadsKV > 0 {
		return s.HeadsKV
	}
	return s.Heads
}

// KVType is the dtype of K and V (float32 for "" or a name ParseDType rejects,
// which Validate reports).
func (s Shape) KVType() backend.DType {
	if s.KVDType == "" {
		return backend.Float32
	}
	d, err := backend.ParseDType(s.KVDType)
	if err != nil {
		return backend.Float32
	}
	return d
}

// KV is the key/value sequence length.
func (s Shape) KV() int {
	if s.SeqKV > 0 {
		return s.SeqKV
	}
	return s.Seq
}

// Case is one operation at one shape.
type Case struct {
	Op    Op    `json:"op"`
	Shape Shape `json:"shape"`
}

// Name is the benchmark name, e.g. "attention/batch=1/seq=512/heads=8/head_dim=64".
func (c Case) Name() string { return string(c.Op) + "/" + c.ShapeName() }

// ShapeName lists the sizes the op reads as key=value parts joined by '/'.
func (c Case) ShapeName() string {
	s := c.Shape
	var parts []string
	add := func(k string, v int) { parts = append(parts, fmt.Sprintf("%s=%d", k, v)) }
	switch c.Op {
	case OpGemm:
		add("m", s.Batch*s.Seq)
		add("n", s.DFF)
		add("k", s.DModel)
	case OpScores, OpSoftmax, OpUnfused, OpAttention, OpDecode:
		add("batch", s.Batch)
		add("seq", s.Seq)
		if s.KV() != s.Seq || c.Op == OpDecode {
			add("seq_kv", s.KV())
		}
		add("heads", s.Heads)
		if s.KVHeads() != s.Heads {
			add("heads_kv", s.KVHeads())
		}
		add("head_dim", s.HeadDim)
		if t := s.KVType(); t != backend.Float32 {
			parts = append(parts, "kv="+t.String())
		}
	case OpFFN:
		add("rows", s.Batch*s.Seq)
		add("d_model", s.DModel)
		add("d_ff", s.DFF)
	case OpLayerNorm:
		add("rows", s.Batch*s.Seq)
		add("d_model", s.DModel)
	case OpMHA, OpEncoder, OpEmbed:
		add("batch", s.Batch)
		add("seq", s.Seq)
		add("d_model", s.DModel)
		add("heads", s.Heads)
		if c.Op != OpMHA {
			add("d_ff", s.DFF)
		}
		if c.Op == OpEmbed {
			add("layers", s.Layers)
		}
	case OpDecoderStep:
		add("batch", s.Batch)
		add("seq", s.Seq)
		add("seq_kv", s.KV())
		add("d_model", s.DModel)
		add("heads", s.Heads)
		add("heads_kv", s.KVHeads())
		add("head_dim", s.HeadDim)
		add("d_ff", s.DFF)
		parts = append(parts, "kv="+s.KVType().String())
	}
	name := strings.Join(parts, "/")
	if s.Causal && c.Op != OpGemm && c.Op != OpFFN && c.Op != OpLayerNorm && c.Op != OpDecode && c.Op != OpDecoderStep {
		name += "/causal"
	}
	return name
}

// Validate rejects shapes the op cannot run, naming the sizes.
func (c Case) Validate() error {
	s := c.Shape
	need := func(names string, vs ...int) error {
		for _, v := range vs {
			if v <= 0 {
				return fmt.Errorf("%s: %s must all be > 0 (got %+v)", c.Op, names, s)
			}
		}
		return nil
	}
	switch c.Op {
	case OpGemm, OpFFN:
		return need("batch, seq, d-model, d-ff", s.Batch, s.Seq, s.DModel, s.DFF)
	case OpScores, OpSoftmax, OpUnfused, OpAttention, OpDecode:
		if err := need("batch, seq, heads, head-dim", s.Batch, s.Seq, s.KV(), s.Heads, s.HeadDim); err != nil {
			return err
		}
		if s.HeadsKV < 0 || s.Heads%s.KVHeads() != 0 {
			return fmt.Errorf("%s: heads-kv %d must divide heads %d", c.Op, s.HeadsKV, s.Heads)
		}
		if s.KVDType != "" {
			d, err := backend.ParseDType(s.KVDType)
			if err != nil || d == backend.BFloat16 {
				return fmt.Errorf("%s: kv-dtype %q: want f32 or f16", c.Op, s.KVDType)
			}
		}
		if (s.HeadsKV != 0 || s.KVDType != "") && c.Op != OpAttention && c.Op != OpDecode {
			return fmt.Errorf("%s: heads-kv and kv-dtype are for the attention and decode ops", c.Op)
		}
		return nil
	case OpLayerNorm:
		return need("batch, seq, d-model", s.Batch, s.Seq, s.DModel)
	case OpDecoderStep:
		if err := need("batch, seq, seq-kv, d-model, heads, head-dim, d-ff", s.Batch, s.Seq, s.KV(), s.DModel, s.Heads, s.HeadDim, s.DFF); err != nil {
			return err
		}
		if s.KV() < s.Seq {
			return fmt.Errorf("%s: seq-kv %d < seq %d (the context includes the new tokens)", c.Op, s.KV(), s.Seq)
		}
		if s.HeadsKV < 0 || s.Heads%s.KVHeads() != 0 {
			return fmt.Errorf("%s: heads-kv %d must divide heads %d", c.Op, s.HeadsKV, s.Heads)
		}
		if s.HeadDim%2 != 0 {
			return fmt.Errorf("%s: head-dim %d must be even (rotary pairs)", c.Op, s.HeadDim)
		}
		if s.KVDType != "" {
			d, err := backend.ParseDType(s.KVDType)
			if err != nil || d == backend.BFloat16 {
				return fmt.Errorf("%s: kv-dtype %q: want f32 or f16", c.Op, s.KVDType)
			}
		}
		return nil
	case OpMHA, OpEncoder, OpEmbed:
		if err := need("batch, seq, d-model, heads", s.Batch, s.Seq, s.DModel, s.Heads); err != nil {
			return err
		}
		if s.DModel%s.Heads != 0 {
			return fmt.Errorf("%s: heads %d do not divide d-model %d", c.Op, s.Heads, s.DModel)
		}
		switch c.Op {
		case OpEncoder:
			return need("d-ff", s.DFF)
		case OpEmbed:
			return need("d-ff, layers", s.DFF, s.Layers)
		}
		return nil
	}
	return fmt.Errorf("unknown op %q", c.Op)
}

// causalFraction is the share of the score matrix a top-left causal mask keeps
// (query i sees min(i+1, Sk) keys), which is the share of attention FLOPs counted,
// as FlashAttention's benchmarks count them.
func causalFraction(s Shape) float64 {
	if !s.Causal {
		return 1
	}
	sq, sk := float64(s.Seq), float64(s.KV())
	kept := sq * (sq + 1) / 2
	if sq > sk {
		kept = sk*(sk+1)/2 + (sq-sk)*sk
	}
	return kept / (sq * sk)
}

// FLOPs is the useful floating-point work of the case: 2 per multiply-add;
// softmax counts 5 per score (max, subtract, exp, sum, divide); LayerNorm 8 per element.
func (c Case) FLOPs() float64 {
	s := c.Shape
	b, sq, sk := float64(s.Batch), float64(s.Seq), float64(s.KV())
	h, d := float64(s.Heads), float64(s.HeadDim)
	e, ff := float64(s.DModel), float64(s.DFF)
	rows := b * sq
	attn := func(heads, dim float64) float64 { return 4 * b * heads * sq * sk * dim * causalFraction(s) }
	switch c.Op {
	case OpGemm:
		return 2 * rows * ff * e
	case OpScores:
		return 2 * b * h * sq * sk * d
	case OpSoftmax:
		return 5 * b * h * sq * sk
	case OpUnfused, OpAttention:
		return attn(h, d)
	case OpDecode:
		return 4 * b * h * sq * sk * d
	case OpDecoderStep:
		halves, _ := decoderStepWeights(s)
		return 2*rows*halves + 4*b*h*sq*sk*d
	case OpFFN:
		return 4 * rows * e * ff
	case OpLayerNorm:
		return 8 * rows * e
	case OpMHA:
		return 2*rows*e*3*e + 2*rows*e*e + attn(h, e/h)
	case OpEncoder:
		return 2*rows*e*3*e + 2*rows*e*e + attn(h, e/h) + 4*rows*e*ff + 2*8*rows*e
	case OpEmbed: // the layers and the embeddings' LayerNorm
		return float64(s.Layers)*Case{Op: OpEncoder, Shape: s}.FLOPs() + 8*rows*e
	}
	return 0
}

// KVBytes is the number of K and V bytes one run must read (K/V stored in
// Shape.KVType, shared by the query heads of a group), for the attention ops.
func (c Case) KVBytes() float64 {
	s := c.Shape
	switch c.Op {
	case OpAttention, OpDecode, OpDecoderStep:
		return 2 * float64(s.Batch) * float64(s.KVHeads()) * float64(s.KV()) * float64(s.HeadDim) * float64(s.KVType().Size())
	}
	return 0
}

// WeightBytes are the weight bytes one decoder step reads (bfloat16 matrices,
// float32 norms); 0 for the other ops.
func (c Case) WeightBytes() float64 {
	if c.Op != OpDecoderStep {
		return 0
	}
	halves, floats := decoderStepWeights(c.Shape)
	return 2*halves + 4*floats
}

// Bytes is the minimum global-memory traffic of the case in float32: every
// input read once and every output written once (the unfused path also writes and
// reads the score matrix). A decode step counts its K/V bytes only (KVBytes), the
// traffic that bounds it; a decoder step its weights and K/V.
func (c Case) Bytes() float64 {
	switch c.Op {
	case OpDecode:
		return c.KVBytes()
	case OpDecoderStep:
		return c.WeightBytes() + c.KVBytes()
	}
	s := c.Shape
	b, sq, sk := float64(s.Batch), float64(s.Seq), float64(s.KV())
	h, d := float64(s.Heads), float64(s.HeadDim)
	e, ff := float64(s.DModel), float64(s.DFF)
	rows := b * sq
	var floats float64
	switch c.Op {
	case OpGemm:
		floats = rows*e + ff*e + rows*ff
	case OpScores:
		floats = b*h*(sq*d+sk*d) + b*h*sq*sk
	case OpSoftmax:
		floats = 2 * b * h * sq * sk
	case OpAttention:
		return 4*b*h*2*sq*d + c.KVBytes()
	case OpUnfused:
		floats = b*h*(2*sq*d+2*sk*d) + 4*b*h*sq*sk
	case OpFFN:
		floats = 2*rows*e + 2*e*ff
	case OpLayerNorm:
		floats = 3 * rows * e
	case OpMHA:
		floats = 2*rows*e + 4*e*e
	case OpEncoder:
		floats = 2*rows*e + 4*e*e + 2*e*ff
	case OpEmbed: // every layer's weights, the embeddings in, the hidden state out
		floats = 2*rows*e + float64(s.Layers)*(4*e*e+2*e*ff)
	}
	return 4 * floats
}

// Suite returns the named set of cases: quick (seconds on a CPU), standard (the
// shapes of the GPU targets), decoding (standard's grouped-query decode and
// prefill rows alone), long (attention at long sequences).
func Suite(name string) ([]Case, error) {
	switch name {
	case "quick":
		var cs []Case
		for _, seq := range []int{128, 256} {
			s := Shape{Batch: 1, Seq: seq, DModel: 256, Heads: 4, HeadDim: 64, DFF: 1024}
			for _, op := range Ops {
				// Decode and decoder steps are judged against a 1 GiB streaming read: not quick.
				if op != OpDecode && op != OpDecoderStep {
					cs = append(cs, Case{Op: op, Shape: s})
				}
			}
		}
		return cs, nil
	case "standard":
		var cs []Case
		cs = append(cs, Case{Op: OpGemm, Shape: Shape{Batch: 1, Seq: 4096, DModel: 4096, DFF: 4096}})
		for _, d := range []int{64, 128} {
			for _, causal := range []bool{false, true} {
				cs = append(cs, Case{Op: OpAttention, Shape: Shape{Batch: 4, Seq: 4096, Heads: 8, HeadDim: d, Causal: causal}})
			}
		}
		for _, seq := range []int{512, 1024, 2048} {
			s := Shape{Batch: 4, Seq: seq, Heads: 8, HeadDim: 64}
			cs = append(cs, Case{Op: OpScores, Shape: s}, Case{Op: OpSoftmax, Shape: s},
				Case{Op: OpUnfused, Shape: s}, Case{Op: OpAttention, Shape: s})
		}
		enc := Shape{Batch: 8, Seq: 512, DModel: 1024, Heads: 16, HeadDim: 64, DFF: 4096}
		cs = append(cs, Case{Op: OpFFN, Shape: enc}, Case{Op: OpLayerNorm, Shape: enc},
			Case{Op: OpMHA, Shape: enc}, Case{Op: OpEncoder, Shape: enc})
		return append(cs, decodingCases()...), nil
	case "decoding":
		return decodingCases(), nil
	case "long":
		var cs []Case
		for _, seq := range []int{4096, 8192, 16384} {
			cs = append(cs, Case{Op: OpAttention, Shape: Shape{Batch: 1, Seq: seq, Heads: 8, HeadDim: 64}})
		}
		return cs, nil
	}
	return nil, fmt.Errorf("unknown suite %q (want quick, standard, decoding or long)", name)
}

// decodingCases are the grouped-query rows of the standard suite: a Llama-style
// decode step (32 query heads, 8 K/V heads, head dim 128) against a 32k cache in
// f16 and f32 and against 4k, prefill at 2048 with 8 K/V heads next to the
// same shape with 32 (sharing K/V must not cost speed), and one token through a
// Llama-3.2-1B block at 4k and 32k of context.
func decodingCases() []Case {
	var cs []Case
	for _, c := range []struct {
		seqKV int
		dtype string
	}{{32768, "f16"}, {32768, ""}, {4096, "f16"}} {
		cs = append(cs, Case{Op: OpDecode, Shape: Shape{Batch: 1, Seq: 1, SeqKV: c.seqKV, Heads: 32, HeadsKV: 8, HeadDim: 128, KVDType: c.dtype}})
	}
	for _, hkv := range []int{8, 32} {
		cs = append(cs, Case{Op: OpAttention, Shape: Shape{Batch: 1, Seq: 2048, Heads: 32, HeadsKV: hkv, HeadDim: 128, Causal: true}})
	}
	for _, seqKV := range []int{4096, 32768} {
		cs = append(cs, Case{Op: OpDecoderStep, Shape: Llama32Step(seqKV)})
	}
	return cs
}
