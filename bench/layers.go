package bench

import (
	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

// prepareLayer builds a multi-head attention block (OpMHA) or a post-norm encoder
// layer (OpEncoder) with random weights under PyTorch's state_dict names, and a
// random input; each run is one forward pass, its output released at once.
func prepareLayer(in *inputs, c Case) error {
	s := c.Shape
	e := s.DModel
	var ts []*safetensors.Tensor
	add := func(name string, scale float32, shape ...int) {
		data := make([]float32, backend.Shape(shape).Numel())
		for i := range data {
			data[i] = float32(in.rng.NormFloat64()) * scale
		}
		ts = append(ts, safetensors.FromFloat32(name, data, shape...))
	}
	add("self_attn.in_proj_weight", 0.05, 3*e, e)
	add("self_attn.in_proj_bias", 0.05, 3*e)
	add("self_attn.out_proj.weight", 0.05, e, e)
	add("self_attn.out_proj.bias", 0.05, e)
	if c.Op == OpEncoder {
		add("linear1.weight", 0.05, s.DFF, e)
		add("linear1.bias", 0.05, s.DFF)
		add("linear2.weight", 0.05, e, s.DFF)
		add("linear2.bias", 0.05, e)
		for _, n := range []string{"norm1", "norm2"} {
			add(n+".weight", 1, e)
			add(n+".bias", 0.05, e)
		}
	}
	w, err := model.NewWeights(ts...)
	if err != nil {
		return err
	}
	x := in.random(1, s.Batch, s.Seq, e)
	if in.err != nil {
		return in.err
	}
	masks := backend.AttentionOptions{}
	if s.Causal {
		masks.Causal = backend.CausalTopLeft
	}
	var forward func() (backend.Tensor, error)
	if c.Op == OpMHA {
		m, err := model.LoadMultiHeadAttention(in.b, model.MHAConfig{DModel: e, Heads: s.Heads}, w, "self_attn.")
		if err != nil {
			return err
		}
		in.w.closers = append(in.w.closers, m.Close)
		forward = func() (backend.Tensor, error) { return m.Forward(x, x, masks) }
	} else {
		l, err := model.LoadEncoderLayer(in.b, model.LayerConfig{DModel: e, Heads: s.Heads, DFF: s.DFF, Activation: backend.ReLU}, w, "")
		if err != nil {
			return err
		}
		in.w.closers = append(in.w.closers, l.Close)
		forward = func() (backend.Tensor, error) { return l.Forward(x, model.EncoderOptions{AttentionOptions: masks}) }
	}
	in.w.run = func() error {
		y, err := forward()
		if err != nil {
			return err
		}
		return y.Release()
	}
	return nil
}
