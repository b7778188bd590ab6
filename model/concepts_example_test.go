package model_test

import (
	"fmt"
	"math"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

// Multi-head attention splits d_model into heads that attend independently:
// here head 0 reads features 0-1 and head 1 features 2-3, so the same query
// looks at different tokens in each head.
func ExampleMultiHeadAttention_heads() {
	be := cpuref.New()
	defer be.Close()
	const e, heads = 4, 2 // head dim 2
	// Identity projections (Q = K = V = x), zero biases.
	inProj := make([]float32, 3*e*e)
	for i := range 3 * e {
		inProj[i*e+i%e] = 1
	}
	outProj := make([]float32, e*e)
	for i := range e {
		outProj[i*e+i] = 1
	}
	w, err := model.NewWeights(
		safetensors.FromFloat32("in_proj_weight", inProj, 3*e, e),
		safetensors.FromFloat32("in_proj_bias", make([]float32, 3*e), 3*e),
		safetensors.FromFloat32("out_proj.weight", outProj, e, e),
		safetensors.FromFloat32("out_proj.bias", make([]float32, e), e),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	mha, err := model.LoadMultiHeadAttention(be, model.MHAConfig{DModel: e, Heads: heads}, w, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mha.Close()
	x, _ := be.Upload([]float32{
		4, 0, 0, 0, // token 0: only head 0's features
		0, 0, 4, 0, // token 1: only head 1's features
		4, 0, 4, 0, // token 2: both
	}, 1, 3, e)
	defer x.Release()
	out, weights, err := mha.ForwardWithWeights(x, nil, backend.AttentionOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer out.Release()
	defer weights.Release()
	p := make([]float32, weights.Shape().Numel()) // [B=1, H=2, Sq=3, Sk=3]
	_ = be.Download(p, weights)
	for h := range heads {
		row := p[(h*3+2)*3 : (h*3+3)*3] // query 2
		fmt.Printf("head %d, token 2 attends to tokens 0..2: %.2f\n", h, row)
	}
	// Output:
	// head 0, token 2 attends to tokens 0..2: [0.50 0.00 0.50]
	// head 1, token 2 attends to tokens 0..2: [0.00 0.50 0.50]
}

// The sinusoidal positional encoding of "Attention Is All You Need":
// PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)).
// With d = 4 the columns are sin(pos), cos(pos), sin(pos/100), cos(pos/100).
func ExamplePositionalEncoding_Table() {
	be := cpuref.New()
	defer be.Close()
	const d = 4
	pe, err := model.NewPositionalEncoding(be, d)
	if err != nil {
		fmt.Println(err)
		return
	}
	table, err := pe.Table(3, 0) // positions 0, 1, 2
	if err != nil {
		fmt.Println(err)
		return
	}
	defer table.Release()
	got := make([]float32, 3*d)
	_ = be.Download(got, table)
	for pos := range 3 {
		p := float64(pos)
		fmt.Printf("pos %d: %.3f  by hand: [%.3f %.3f %.3f %.3f]\n", pos, got[pos*d:(pos+1)*d],
			math.Sin(p), math.Cos(p), math.Sin(p/100), math.Cos(p/100))
	}
	// Output:
	// pos 0: [0.000 1.000 0.000 1.000]  by hand: [0.000 1.000 0.000 1.000]
	// pos 1: [0.841 0.540 0.010 1.000]  by hand: [0.841 0.540 0.010 1.000]
	// pos 2: [0.909 -0.416 0.020 1.000]  by hand: [0.909 -0.416 0.020 1.000]
}
