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
