package golden

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

// Case is one golden case file: its name, kind, configuration (the metadata,
// read by Bool, Int, Float, Layout and LoadOptions) and tensors. Run runs it;
// other tools (gpubench attn-map) read it to run its model themselves.
type Case struct {
	Name string // the metadata's name, else the file name without .safetensors
	Kind string // sdpa, mha, encoder, decoder, transformer, bert or posenc
	File *safetensors.File
}

// ReadCase reads the case file at path.
func ReadCase(path string) (*Case, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("golden: %w", err)
	}
	return NewCase(f, strings.TrimSuffix(filepath.Base(path), ".safetensors")), nil
}

// NewCase is the case of a parsed file; name is used where the metadata has none.
func NewCase(f *safetensors.File, name string) *Case {
	if n := f.Metadata["name"]; n != "" {
		name = n
	}
	return &Case{Name: name, Kind: f.Metadata["kind"], File: f}
}

// Metadata readers: absent keys take PyTorch's defaults.

// Bool reads a True/False (or 1/0) key.
func (c *Case) Bool(key string, def bool) (bool, error) {
	v, ok := c.File.Metadata[key]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("metadata %s = %q, want True or False", key, v)
}

// Int reads an integer key.
func (c *Case) Int(key string, def int) (int, error) {
	v, ok := c.File.Metadata[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("metadata %s = %q, want an integer", key, v)
	}
	return n, nil
}

// Float reads a number key; "None" is the default.
func (c *Case) Float(key string, def float64) (float64, error) {
	v, ok := c.File.Metadata[key]
	if !ok || v == "None" {
		return def, nil
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("metadata %s = %q, want a number", key, v)
	}
	return x, nil
}

// Layout reads batch_first: False stores every [B, S, E] input and output as
// [S, B, E] (PyTorch's default layout).
func (c *Case) Layout() (model.Layout, error) {
	bf, err := c.Bool("batch_first", true)
	if err != nil || bf {
		return model.BatchFirst, err
	}
	return model.SeqFirst, nil
}

// LoadOptions reads what the weights of a layer, stack or transformer case do
// not say, for model.Inspect: heads (0 where the metadata has none), bias,
// batch_first, activation (relu or gelu), norm_first, eps, and the stacks'
// layers and final_norm (a transformer's encoder_layers and decoder_layers,
// 6 by default as nn.Transformer's).
func (c *Case) LoadOptions() (model.LoadOptions, error) {
	var opt model.LoadOptions
	var err error
	if opt.Heads, err = c.Int("heads", 0); err != nil {
		return opt, err
	}
	bias, err := c.Bool("bias", true)
	if err != nil {
		return opt, err
	}
	opt.NoBias = !bias
	if opt.Layout, err = c.Layout(); err != nil {
		return opt, err
	}
	act := c.File.Metadata["activation"]
	if act == "" {
		act = "relu"
	}
	if act != "relu" && act != "gelu" {
		return opt, fmt.Errorf("activation %q is not supported (want relu or gelu)", act)
	}
	if opt.Activation, err = backend.ParseActivation(act); err != nil {
		return opt, err
	}
	if opt.NormFirst, err = c.Bool("norm_first", false); err != nil {
		return opt, err
	}
	eps, err := c.Float("eps", 1e-5)
	if err != nil {
		return opt, err
	}
	if opt.Eps, err = backend.EpsFloat32(eps); err != nil {
		return opt, err
	}
	if c.Kind == model.KindTransformer {
		if opt.EncoderLayers, err = c.Int("encoder_layers", 6); err != nil {
			return opt, err
		}
		opt.DecoderLayers, err = c.Int("decoder_layers", 6)
		return opt, err
	}
	if opt.Layers, err = c.Int("layers", 0); err != nil {
		return opt, err
	}
	opt.FinalNorm, err = c.Bool("final_norm", false)
	return opt, err
}

// IsOutput reports whether a case tensor is a reference output (out,
// attn_weights, BERT's pooler and embedding, each with its _f64) rather than
// an input or a weight.
func IsOutput(name string) bool {
	switch name {
	case "out", "out_f64", "attn_weights", "attn_weights_f64", "pooler", "pooler_f64", "embedding", "embedding_f64":
		return true
	}
	return false
}
