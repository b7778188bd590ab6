package model

import "github.com/clattn/clattn/backend"

// FeedForward is the position-wise network linear2(act(linear1(x))), run as one
// fused backend.FeedForward call.
type FeedForward struct {
	be  backend.Backend
	w   backend.FFNWeights
	act backend.Activation
}

// loadFFN reads linear1.weight [dFF, dModel], linear1.bias, linear2.weight
// [dModel, dFF] and linear2.bias (no biases with cfg.NoBias) under l's prefix.
func loadFFN(l loader, cfg LayerConfig) *FeedForward {
	f := &FeedForward{be: l.be, act: cfg.Activation, w: backend.FFNWeights{
		W1: l.tensor("linear1.weight", cfg.DFF, cfg.DModel),
		W2: l.tensor("linear2.weight", cfg.DModel, cfg.DFF),
	}}
	if !cfg.NoBias {
		f.w.B1 = l.tensor("linear1.bias", cfg.DFF)
		f.w.B2 = l.tensor("linear2.bias", cfg.DModel)
	}
	return f
}

// apply writes act(x W1^T + b1) W2^T + b2 + residual into dst; residual may be nil.
func (f *FeedForward) apply(dst, x, residual backend.Tensor, norm *LayerNorm) error {
	return f.be.FeedForward(dst, x, f.w, backend.FFNOptions{Activation: f.act, Residual: residual, Norm: norm.options()})
}

// LayerNorm normalises the last dimension and applies weight (gamma) and bias (beta).
type LayerNorm struct {
	be          backend.Backend
	gamma, beta backend.Tensor
	eps         float32
}

// loadLayerNorm reads weight [d] and, unless noBias, bias [d] under l's prefix.
func loadLayerNorm(l loader, d int, eps float32, noBias bool) *LayerNorm {
	n := &LayerNorm{be: l.be, eps: eps, gamma: l.tensor("weight", d)}
	if !noBias {
		n.beta = l.tensor("bias", d)
	}
	return n
}

// apply writes LayerNorm(x + residual) into dst; residual may be nil.
func (n *LayerNorm) apply(dst, x, residual backend.Tensor) error {
	opt := *n.options()
	opt.Residual = residual
	return n.be.LayerNorm(dst, x, opt)
}

// options are n's LayerNormOptions: what a product applies as its Norm
// (post-norm sublayers); nil for a nil n.
func (n *LayerNorm) options() *backend.LayerNormOptions {
	if n == nil {
		return nil
	}
	return &backend.LayerNormOptions{Gamma: n.gamma, Beta: n.beta, Eps: n.eps}
}

// LayerConfig is the shape of a Transformer encoder or decoder layer, as the
// arguments of PyTorch's nn.TransformerEncoderLayer / nn.TransformerDecoderLayer.
type LayerConfig struct {
	DModel, Heads, DFF int
	// Activation of the feed-forward network: backend.ReLU (PyTorch's default) or backend.GELU.
	Activation backend.Activation
	// NormFirst selects pre-norm (x + f(norm(x))); the default is post-norm (norm(x + f(x))).
	NormFirst bool
	// Eps of every LayerNorm; 0 means 1e-5.
	Eps float32
	// NoBias drops every bias: the attention's, linear1's, linear2's and the
	// LayerNorms' (PyTorch's bias=False, PyTorch >= 2.1).
	NoBias bool
	// Layout of the inputs and outputs: BatchFirst (the default) or SeqFirst
	// (PyTorch's default, batch_first=False).
	Layout Layout
}

// mha is the configuration of the layer's attention blocks.
func (c LayerConfig) mha() MHAConfig {
	return MHAConfig{DModel: c.DModel, Heads: c.Heads, NoBias: c.NoBias, Layout: c.Layout}
}

func (c LayerConfig) validate(op string) error {
	if err := c.mha().validate(op); err != nil {
		return err
	}
	if c.DFF <= 0 {
		return backend.ShapeErrorf(op, "d_ff = %d, want > 0", c.DFF)
	}
	if c.Activation < backend.Identity || c.Activation > backend.GELU {
		return backend.ArgumentErrorf(op, "unknown activation %v", c.Activation)
	}
	if c.Eps < 0 || c.Eps != c.Eps {
		return backend.ArgumentErrorf(op, "eps = %g, want > 0", c.Eps)
	}
	return nil
}

// checkInput verifies that x is [batch, seq, dModel] ([seq, batch, dModel] seq-first).
func checkInput(op, name string, x backend.Tensor, dModel int, lay Layout) error {
	if x == nil {
		return backend.NoTensorError(op, name)
	}
	if s := x.Shape(); len(s) != 3 || s[2] != dModel {
		return backend.ShapeErrorf(op, "%s is %v, want %s", name, s, lay.want("batch", dModel))
	}
	return nil
}
