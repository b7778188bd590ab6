package backend_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

// Scaled dot-product attention, softmax(q k^T / sqrt(d_k)) v, on an input small
// enough to check by hand.
func ExampleBackend_Attention() {
	be := cpuref.New() // any backend.Backend gives the same answer
	defer be.Close()

	// One batch, one head, one query, two keys, d_k = 4 (so sqrt(d_k) = 2).
	q, _ := be.Upload([]float32{2, 0, 0, 0}, 1, 1, 1, 4)
	k, _ := be.Upload([]float32{
		0, 0, 0, 0, // key 0: score q.k0/2 = 0
		1, 0, 0, 0, // key 1: score q.k1/2 = 2/2 = 1
	}, 1, 1, 2, 4)
	v, _ := be.Upload([]float32{
		1, 0, 0, 0, // value 0
		0, 1, 0, 0, // value 1
	}, 1, 1, 2, 4)
	out, _ := be.Alloc(1, 1, 1, 4)
	qh, _ := backend.HeadsOf(q)
	kh, _ := backend.HeadsOf(k)
	vh, _ := backend.HeadsOf(v)
	oh, _ := backend.HeadsOf(out)

	// Scale 0 means 1/sqrt(d_k).
	if err := be.Attention(oh, qh, kh, vh, backend.AttentionOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	got := make([]float32, 4)
	_ = be.Download(got, out)

	// softmax(0, 1) = (1/(1+e), e/(1+e)) = (0.269, 0.731): the output mixes the
	// two values in those proportions.
	fmt.Printf("by hand:   %.3f %.3f\n", 1/(1+math.E), math.E/(1+math.E))
	fmt.Printf("attention: %.3f\n", got)
	// Output:
	// by hand:   0.269 0.731
	// attention: [0.269 0.731 0.000 0.000]
}

// Why scores are divided by sqrt(d_k): a dot product of d_k unit-variance terms
// has variance d_k, so without the scale softmax saturates as d_k grows (low
// entropy, one key takes nearly all the weight) and its gradients vanish. With
// the scale the rows stay equally soft at every d_k. `gpubench explain scaling`
// measures and draws the same thing.
func ExampleAttentionOptions_scale() {
	be := cpuref.New()
	defer be.Close()
	const heads, seq = 16, 32
	rng := rand.New(rand.NewPCG(1, 2))
	fmt.Printf("uniform over %d keys: entropy %.2f\n", seq, math.Log(seq))
	fmt.Println("d_k  entropy scaled/unscaled  largest weight scaled/unscaled")
	for _, dk := range []int{4, 64, 1024} {
		normal := func() []float32 {
			x := make([]float32, heads*seq*dk)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			return x
		}
		q, _ := be.Upload(normal(), 1, heads, seq, dk)
		k, _ := be.Upload(normal(), 1, heads, seq, dk)
		qh, _ := backend.HeadsOf(q)
		kh, _ := backend.HeadsOf(k)
		w, _ := be.Alloc(1, heads, seq, seq)
		var entropy, largest [2]float64
		// Scale 0 is 1/sqrt(d_k); Scale 1 leaves the scores unscaled.
		for i, opt := range []backend.AttentionOptions{{}, {Scale: 1}} {
			_ = be.Scores(w, qh, kh, opt.EffectiveScale(dk))
			_ = be.Softmax(w, w, opt)
			p := make([]float32, heads*seq*seq)
			_ = be.Download(p, w)
			entropy[i], largest[i] = rowStats(p, seq)
		}
		fmt.Printf("%4d  %.2f / %.2f              %.2f / %.2f\n", dk, entropy[0], entropy[1], largest[0], largest[1])
		_, _, _ = q.Release(), k.Release(), w.Release()
	}
	// Output:
	// uniform over 32 keys: entropy 3.47
	// d_k  entropy scaled/unscaled  largest weight scaled/unscaled
	//    4  3.02 / 2.23              0.17 / 0.36
	//   64  3.01 / 0.51              0.17 / 0.81
	// 1024  2.99 / 0.11              0.17 / 0.95
}

// rowStats is the mean entropy (nats) and mean largest weight of the rows of p.
func rowStats(p []float32, cols int) (entropy, largest float64) {
	rows := len(p) / cols
	for r := range rows {
		top := 0.0
		for _, w := range p[r*cols : (r+1)*cols] {
			if w > 0 {
				entropy -= float64(w) * math.Log(float64(w))
			}
			top = math.Max(top, float64(w))
		}
		largest += top
	}
	return entropy / float64(rows), largest / float64(rows)
}

// printWeights computes softmax(scores + masks) for queries and keys whose
// scores are all equal, so each row spreads evenly over the keys it may see.
func printWeights(be backend.Backend, batch, sq, sk int, opt backend.AttentionOptions) {
	scores, _ := be.Alloc(batch, 1, sq, sk) // all zero
	defer scores.Release()
	if err := be.Softmax(scores, scores, opt); err != nil {
		fmt.Println(err)
		return
	}
	w := make([]float32, batch*sq*sk)
	_ = be.Download(w, scores)
	for r := range batch * sq {
		fmt.Printf("%.3f\n", w[r*sk:(r+1)*sk])
	}
}

// A causal mask lets query i attend only to keys j <= i: the future is hidden
// (a decoder predicting token i+1 must not see it).
func ExampleAttentionOptions_causal() {
	be := cpuref.New()
	defer be.Close()
	printWeights(be, 1, 4, 4, backend.AttentionOptions{Causal: backend.CausalTopLeft})
	// Output:
	// [1.000 0.000 0.000 0.000]
	// [0.500 0.500 0.000 0.000]
	// [0.333 0.333 0.333 0.000]
	// [0.250 0.250 0.250 0.250]
}

// A key padding mask [B, Sk] hides the padding at the end of shorter sequences
// of a batch: a nonzero entry means "this key is padding, ignore it".
func ExampleAttentionOptions_keyPadding() {
	be := cpuref.New()
	defer be.Close()
	// Batch element 0 has 3 real tokens, element 1 only 2 (key 2 is padding).
	padding, _ := be.Upload([]float32{
		0, 0, 0,
		0, 0, 1,
	}, 2, 3)
	defer padding.Release()
	printWeights(be, 2, 2, 3, backend.AttentionOptions{KeyPadding: padding})
	// Output:
	// [0.333 0.333 0.333]
	// [0.333 0.333 0.333]
	// [0.500 0.500 0.000]
	// [0.500 0.500 0.000]
}

// The position-wise feed-forward network act(x W1^T + b1) W2^T + b2, applied to
// every position alone, with PyTorch's weight layout ([out, in]).
func ExampleBackend_FeedForward() {
	be := cpuref.New()
	defer be.Close()
	x, _ := be.Upload([]float32{1, -1}, 1, 2) // one position, d_model = 2
	w1, _ := be.Upload([]float32{
		1, 0,
		0, 1,
		1, 1,
	}, 3, 2) // d_ff = 3
	b1, _ := be.Upload([]float32{0, 0, 0.5}, 3)
	w2, _ := be.Upload([]float32{
		1, 1, 1,
		1, -1, 2,
	}, 2, 3)
	b2, _ := be.Upload([]float32{0, 1}, 2)
	out, _ := be.Alloc(1, 2)
	w := backend.FFNWeights{W1: w1, B1: b1, W2: w2, B2: b2}
	got := make([]float32, 2)
	// Hidden x W1^T + b1 = (1, -1, 0.5); ReLU gives (1, 0, 0.5), GELU
	// (0.841, -0.159, 0.346); then W2 and b2.
	for _, act := range []backend.Activation{backend.ReLU, backend.GELU} {
		if err := be.FeedForward(out, x, w, backend.FFNOptions{Activation: act}); err != nil {
			fmt.Println(err)
			return
		}
		_ = be.Download(got, out)
		fmt.Printf("%s: %.3f\n", act, got)
	}
	// Output:
	// relu: [1.500 3.000]
	// gelu: [1.028 2.691]
}

// Residual + LayerNorm, the glue of every Transformer sub-layer:
// LayerNorm(x + sublayer(x)), each row normalised to mean 0 and variance 1
// (then scaled by gamma and shifted by beta, here 1 and 0).
func ExampleBackend_LayerNorm() {
	be := cpuref.New()
	defer be.Close()
	x, _ := be.Upload([]float32{1, 2, 3, 4}, 1, 4)
	sublayer, _ := be.Upload([]float32{1, 1, 1, 1}, 1, 4) // what attention or the FFN added
	out, _ := be.Alloc(1, 4)
	if err := be.LayerNorm(out, x, backend.LayerNormOptions{Residual: sublayer}); err != nil {
		fmt.Println(err)
		return
	}
	got := make([]float32, 4)
	_ = be.Download(got, out)
	// x + sublayer = (2, 3, 4, 5): mean 3.5, biased variance 1.25, so
	// (y - 3.5) / sqrt(1.25 + 1e-5).
	fmt.Printf("%.3f\n", got)
	// Output:
	// [-1.342 -0.447 0.447 1.342]
}

// A post-norm sublayer, LayerNorm(x + Linear(x)), in one call: the product's
// Norm normalises each row after the residual, while the row is still in the
// cache, exactly as a separate LayerNorm would.
func ExampleGemmOptions_norm() {
	be := cpuref.New()
	defer be.Close()
	x, _ := be.Upload([]float32{1, 2, 3, 4}, 1, 4)
	w, _ := be.Upload([]float32{ // Linear(4, 4).weight: feature 0 is the mean of x, the others 0
		0.25, 0.25, 0.25, 0.25,
		0, 0, 0, 0,
		0, 0, 0, 0,
		0, 0, 0, 0}, 4, 4)
	out, _ := be.Alloc(1, 4)
	res := backend.MatOf(x)
	opt := backend.GemmOptions{TransB: true, Residual: &res, Norm: &backend.LayerNormOptions{}}
	if err := be.Gemm(backend.RowsOf(out), backend.RowsOf(x), backend.MatOf(w), opt); err != nil {
		fmt.Println(err)
		return
	}
	got := make([]float32, 4)
	_ = be.Download(got, out)
	// x W^T = (2.5, 0, 0, 0), plus x = (3.5, 2, 3, 4): mean 3.125, biased
	// variance 0.546875, so (y - 3.125) / sqrt(0.546875 + 1e-5).
	fmt.Printf("%.3f\n", got)
	// Output:
	// [0.507 -1.521 -0.169 1.183]
}
