package model_test

import (
	"fmt"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

// A self-attention block with PyTorch's weight names, returning per-head weights.
func ExampleMultiHeadAttention_ForwardWithWeights() {
	be := cpuref.New()
	defer be.Close()
	const e, heads = 4, 2
	// Identity projections, zero biases: Q = K = V = x.
	inProj := make([]float32, 3*e*e)
	for i := range 3 * e {
		inProj[i*e+i%e] = 1
	}
	outProj := make([]float32, e*e)
	for i := range e {
		outProj[i*e+i] = 1
	}
	w, err := model.NewWeights(
		safetensors.FromFloat32("self_attn.in_proj_weight", inProj, 3*e, e),
		safetensors.FromFloat32("self_attn.in_proj_bias", make([]float32, 3*e), 3*e),
		safetensors.FromFloat32("self_attn.out_proj.weight", outProj, e, e),
		safetensors.FromFloat32("self_attn.out_proj.bias", make([]float32, e), e),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	mha, err := model.LoadMultiHeadAttention(be, model.MHAConfig{DModel: e, Heads: heads}, w, "self_attn.")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mha.Close()
	x, _ := be.Upload([]float32{1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1}, 1, 3, e) // [B=1, S=3, E=4]
	defer x.Release()
	out, weights, err := mha.ForwardWithWeights(x, nil, backend.AttentionOptions{Causal: backend.CausalTopLeft})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer out.Release()
	defer weights.Release()
	p := make([]float32, weights.Shape().Numel())
	_ = be.Download(p, weights)
	fmt.Println("weights", weights.Shape())
	fmt.Printf("head 0, query 0: %.3f\n", p[0:3])
	fmt.Printf("head 0, query 1: %.3f\n", p[3:6])
	// Output:
	// weights [1 2 3 3]
	// head 0, query 0: [1.000 0.000 0.000]
	// head 0, query 1: [0.330 0.670 0.000]
}

// nn.MultiheadAttention's options: a sequence-first input ([S, B, E], PyTorch's
// default layout), add_zero_attn, a boolean mask written for
// F.scaled_dot_product_attention (true = attend), and weights averaged over heads.
func ExampleMultiHeadAttention_Attend() {
	be := cpuref.New()
	defer be.Close()
	const e = 2
	// Identity projections, zero biases: Q = K = V = x.
	w, err := model.NewWeights(
		safetensors.FromFloat32("in_proj_weight", []float32{1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1}, 3*e, e),
		safetensors.FromFloat32("in_proj_bias", make([]float32, 3*e), 3*e),
		safetensors.FromFloat32("out_proj.weight", []float32{1, 0, 0, 1}, e, e),
		safetensors.FromFloat32("out_proj.bias", make([]float32, e), e),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := model.MHAConfig{DModel: e, Heads: 1, AddZeroAttn: true, Layout: model.SeqFirst}
	mha, err := model.LoadMultiHeadAttention(be, cfg, w, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mha.Close()
	x, _ := be.Upload([]float32{1, 0, 0, 1}, 2, 1, e) // [S=2, B=1, E=2]
	defer x.Release()
	// Query 0 may attend to key 0 only, query 1 to both keys.
	mask, err := model.UploadBoolMask(be, []bool{true, false, true, true}, model.TrueAttends, 2, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mask.Release()
	opt := model.MHAOptions{AttentionOptions: backend.AttentionOptions{Mask: mask}, NeedWeights: true, AverageWeights: true}
	out, weights, err := mha.Attend(x, nil, nil, opt)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer out.Release()
	defer weights.Release()
	p := make([]float32, weights.Shape().Numel())
	_ = be.Download(p, weights)
	fmt.Println("out", out.Shape(), "weights", weights.Shape(), "(key 2 is the zero key)")
	fmt.Printf("query 0: %.3f\n", p[0:3])
	fmt.Printf("query 1: %.3f\n", p[3:6])
	// Output:
	// out [2 1 2] weights [1 2 3] (key 2 is the zero key)
	// query 0: [0.670 0.000 0.330]
	// query 1: [0.248 0.503 0.248]
}
