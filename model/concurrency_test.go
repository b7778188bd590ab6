package model_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/clattn/clattn/model"
	"github.com/clattn/clattn/safetensors"
)

// TestConcurrentForward calls Forward of one module of each kind from 16
// goroutines at once, with inputs of different sequence lengths (so the
// modules' intermediate tensors change shape between calls), and checks every
// output is bitwise equal to a serial run's.
func TestConcurrentForward(t *testing.T) {
	t.Run("cpu", func(t *testing.T) { concurrentForward(t, cpuref.New()) })
	t.Run("opencl", func(t *testing.T) { concurrentForward(t, gputest.Device(t)) })
}

func concurrentForward(t *testing.T, be backend.Backend) {
	const e, heads, ff = 16, 2, 24
	rng := rand.New(rand.NewPCG(21, 22))
	cfg := model.LayerConfig{DModel: e, Heads: heads, DFF: ff, Activation: backend.GELU}
	mha, err := model.LoadMultiHeadAttention(be, model.MHAConfig{DModel: e, Heads: heads}, mustWeights(t, mhaTensors(rng, "", e)), "")
	if err != nil {
		t.Fatal(err)
	}
	enc, err := model.LoadEncoderLayer(be, cfg, mustWeights(t, layerTensors(rng, "", e, ff, false)), "")
	if err != nil {
		t.Fatal(err)
	}
	dec, err := model.LoadDecoderLayer(be, cfg, mustWeights(t, layerTensors(rng, "", e, ff, true)), "")
	if err != nil {
		t.Fatal(err)
	}
	stackWeights := append(layerTensors(rng, "layers.0.", e, ff, false), layerTensors(rng, "layers.1.", e, ff, false)...)
	stack, err := model.LoadEncoder(be, model.EncoderConfig{Layer: cfg, Layers: 2}, mustWeights(t, stackWeights), "")
	if err != nil {
		t.Fatal(err)
	}
	var tw []*safetensors.Tensor
	tw = append(tw, layerTensors(rng, "encoder.layers.0.", e, ff, false)...)
	tw = append(tw, layerTensors(rng, "decoder.layers.0.", e, ff, true)...)
	for _, p := range []string{"encoder.norm.", "decoder.norm."} {
		tw = append(tw, randomTensor(rng, p+"weight", 1, e), randomTensor(rng, p+"bias", 0.1, e))
	}
	tr, err := model.LoadTransformer(be, model.TransformerConfig{Layer: cfg, EncoderLayers: 1, DecoderLayers: 1}, mustWeights(t, tw), "")
	if err != nil {
		t.Fatal(err)
	}
	extraCfg := model.MHAConfig{DModel: e, Heads: heads, AddBiasKV: true, AddZeroAttn: true, Layout: model.SeqFirst}
	extra, err := model.LoadMultiHeadAttention(be, extraCfg, mustWeights(t, mhaWeights(rng, extraCfg)), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range []interface{ Close() error }{mha, enc, dec, stack, tr, extra} {
			if err := c.Close(); err != nil {
				t.Error(err)
			}
		}
	})

	var xs, mems []backend.Tensor
	for _, seq := range []int{1, 5, 12} {
		xs = append(xs, upload(t, be, rng, 2, seq, e))
		mems = append(mems, upload(t, be, rng, 2, seq+3, e))
	}
	causal := backend.AttentionOptions{Causal: backend.CausalTopLeft}
	type call struct {
		name string
		run  func() (backend.Tensor, error)
	}
	var calls []call
	for i := range xs {
		x, mem := xs[i], mems[i]
		calls = append(calls,
			call{fmt.Sprintf("mha self %d", i), func() (backend.Tensor, error) { return mha.Forward(x, nil, causal) }},
			call{fmt.Sprintf("mha cross %d", i), func() (backend.Tensor, error) { return mha.Forward(x, mem, backend.AttentionOptions{}) }},
			call{fmt.Sprintf("mha weights %d", i), func() (backend.Tensor, error) {
				out, w, err := mha.ForwardWithWeights(x, mem, backend.AttentionOptions{})
				if err == nil {
					err = w.Release()
				}
				return out, err
			}},
			call{fmt.Sprintf("encoder layer %d", i), func() (backend.Tensor, error) { return enc.Forward(x, model.EncoderOptions{AttentionOptions: causal}) }},
			call{fmt.Sprintf("decoder layer %d", i), func() (backend.Tensor, error) {
				return dec.Forward(x, mem, model.DecoderOptions{Self: causal})
			}},
			call{fmt.Sprintf("encoder stack %d", i), func() (backend.Tensor, error) { return stack.Forward(x, model.EncoderOptions{}) }},
			call{fmt.Sprintf("stack layer 1 alone %d", i), func() (backend.Tensor, error) {
				return stack.Layer(1).Forward(x, model.EncoderOptions{AttentionOptions: causal})
			}},
			call{fmt.Sprintf("transformer %d", i), func() (backend.Tensor, error) {
				return tr.Forward(mem, x, model.TransformerOptions{Tgt: causal})
			}},
			call{fmt.Sprintf("transformer's decoder alone %d", i), func() (backend.Tensor, error) {
				return tr.Decoder().Forward(x, mem, model.DecoderOptions{})
			}},
			call{fmt.Sprintf("mha seq-first, appended keys, additive key padding %d", i), func() (backend.Tensor, error) {
				// x [2, S, E] read seq-first is 2 positions of a batch of S.
				kp, err := be.Alloc(x.Shape()[1], x.Shape()[0])
				if err != nil {
					return nil, err
				}
				defer kp.Release()
				out, w, err := extra.Attend(x, x, nil, model.MHAOptions{AttentionOptions: backend.AttentionOptions{KeyPadding: kp},
					KeyPaddingKind: backend.MaskAdditive, NeedWeights: true, AverageWeights: true})
				if err == nil {
					err = w.Release()
				}
				return out, err
			}},
		)
	}
	result := func(c call) ([]float32, error) {
		out, err := c.run()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		defer out.Release()
		data := make([]float32, out.Shape().Numel())
		if err := be.Download(data, out); err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		return data, nil
	}

	serial := make([][]float32, len(calls))
	for i, c := range calls {
		if serial[i], err = result(c); err != nil {
			t.Fatal(err)
		}
	}
	const goroutines = 16
	errs := make(chan error, goroutines*len(calls))
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for n := range calls {
				i := (g + n) % len(calls)
				got, err := result(calls[i])
				if err == nil {
					for j := range got {
						if math.Float32bits(got[j]) != math.Float32bits(serial[i][j]) {
							err = fmt.Errorf("%s: element %d is %g, serial run %g", calls[i].name, j, got[j], serial[i][j])
							break
						}
					}
				}
				if err != nil {
					errs <- fmt.Errorf("goroutine %d: %w", g, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
