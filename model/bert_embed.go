package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/clattn/clattn/backend"
)

// Pooling turns a row's last hidden state into one sentence embedding.
type Pooling int

const (
	// PoolMean averages the hidden states of the row's tokens (attention mask
	// 1), sentence-transformers' pooling_mode_mean_tokens.
	PoolMean Pooling = iota
	// PoolCLS takes the first token's hidden state (pooling_mode_cls_token).
	PoolCLS
	// PoolPooler takes the model's pooler output tanh(dense(first token)).
	PoolPooler
)

func (p Pooling) String() string {
	switch p {
	case PoolMean:
		return "mean"
	case PoolCLS:
		return "cls"
	case PoolPooler:
		return "pooler"
	}
	return fmt.Sprintf("Pooling(%d)", int(p))
}

// ParsePooling reads "mean", "cls" or "pooler".
func ParsePooling(s string) (Pooling, error) {
	for _, p := range []Pooling{PoolMean, PoolCLS, PoolPooler} {
		if s == p.String() {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown pooling %q (want mean, cls or pooler)", s)
}

// EmbeddingOptions say how token states become a sentence embedding.
type EmbeddingOptions struct {
	Pooling Pooling
	// Normalize scales each embedding to unit L2 norm (sentence-transformers'
	// Normalize module), for cosine similarity as a dot product.
	Normalize bool
}

// Embed pools each row of out into one embedding of out.Dim values.
func (o EmbeddingOptions) Embed(out *BertOutput) ([][]float32, error) {
	if o.Pooling == PoolPooler && out.Pooler == nil {
		return nil, fmt.Errorf("Embed: %w: pooling %s, but the model has no pooler (pooler.dense.*)", backend.ErrArgument, o.Pooling)
	}
	e := out.Dim
	embs := make([][]float32, out.Batch)
	sum := make([]float64, e)
	for i := range embs {
		emb := make([]float32, e)
		switch o.Pooling {
		case PoolMean:
			clear(sum)
			n := out.Lengths[i]
			for j := range n {
				for k, v := range out.Hidden[(i*out.Seq+j)*e : (i*out.Seq+j+1)*e] {
					sum[k] += float64(v)
				}
			}
			for k, v := range sum {
				emb[k] = float32(v / float64(n))
			}
		case PoolCLS:
			copy(emb, out.Hidden[i*out.Seq*e:])
		case PoolPooler:
			copy(emb, out.Pooler[i*e:(i+1)*e])
		default:
			return nil, fmt.Errorf("Embed: %w: unknown pooling %v", backend.ErrArgument, o.Pooling)
		}
		if o.Normalize {
			normalize(emb)
		}
		embs[i] = emb
	}
	return embs, nil
}

// normalize divides v by max(||v||, 1e-12), as torch.nn.functional.normalize.
func normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	n := math.Max(math.Sqrt(ss), 1e-12)
	for i, x := range v {
		v[i] = float32(float64(x) / n)
	}
}

// SentenceEncoder computes sentence embeddings with a BERT-family model and
// the pooling of its sentence-transformers folder.
type SentenceEncoder struct {
	Model   *Bert
	Options EmbeddingOptions
}

// LoadSentenceEncoder loads a Hugging Face or sentence-transformers folder:
// config.json and model.safetensors, and, where the folder has them,
// modules.json with its Pooling (1_Pooling/config.json) and Normalize modules.
// Without modules.json it pools by the mean without normalising, as
// sentence-transformers does for a plain Hugging Face model.
func LoadSentenceEncoder(be backend.Backend, dir string) (*SentenceEncoder, error) {
	opt, err := ReadEmbeddingOptions(dir)
	if err != nil {
		return nil, err
	}
	m, err := LoadBertDir(be, dir)
	if err != nil {
		return nil, err
	}
	if opt.Pooling == PoolPooler && !m.HasPooler() {
		return nil, errors.Join(fmt.Errorf("model: %s: pooling %s, but the model has no pooler", dir, opt.Pooling), m.Close())
	}
	return &SentenceEncoder{Model: m, Options: opt}, nil
}

// Embed returns one embedding per row of token ids (see Bert.Forward).
func (s *SentenceEncoder) Embed(ids [][]int) ([][]float32, error) {
	out, err := s.Model.Forward(ids, nil)
	if err != nil {
		return nil, err
	}
	return s.Options.Embed(out)
}

// Close releases the model; it is idempotent.
func (s *SentenceEncoder) Close() error { return s.Model.Close() }

// stModule is one entry of a sentence-transformers modules.json.
type stModule struct {
	Path string `json:"path"`
	Type string `json:"type"`
}

// stPooling is sentence-transformers' Pooling config.json.
type stPooling struct {
	CLS          bool `json:"pooling_mode_cls_token"`
	Mean         bool `json:"pooling_mode_mean_tokens"`
	Max          bool `json:"pooling_mode_max_tokens"`
	MeanSqrtLen  bool `json:"pooling_mode_mean_sqrt_len_tokens"`
	WeightedMean bool `json:"pooling_mode_weightedmean_tokens"`
	LastToken    bool `json:"pooling_mode_lasttoken"`
}

// ReadEmbeddingOptions reads the pooling and normalisation of a
// sentence-transformers folder from modules.json: a Transformer module, then
// a Pooling module (mean or CLS) and optionally Normalize. A folder without
// modules.json gives mean pooling without normalisation. A module or pooling
// mode that changes the result and is not implemented (Dense, max pooling,
// ...) is an error naming it.
func ReadEmbeddingOptions(dir string) (EmbeddingOptions, error) {
	opt := EmbeddingOptions{Pooling: PoolMean}
	path := filepath.Join(dir, "modules.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return opt, nil
	}
	if err != nil {
		return opt, fmt.Errorf("model: %w", err)
	}
	var modules []stModule
	if err := json.Unmarshal(b, &modules); err != nil {
		return opt, fmt.Errorf("model: %s: %w: %v", path, ErrConfig, err)
	}
	sawTransformer := false
	for i, mod := range modules {
		kind := mod.Type[strings.LastIndex(mod.Type, ".")+1:]
		switch {
		case kind == "Transformer" && i == 0 && (mod.Path == "" || mod.Path == "."):
			sawTransformer = true
		case kind == "Pooling" && sawTransformer && i == 1:
			if opt.Pooling, err = readPooling(filepath.Join(dir, mod.Path, "config.json")); err != nil {
				return opt, err
			}
		case kind == "Normalize" && i == len(modules)-1 && i > 0:
			opt.Normalize = true
		default:
			return opt, fmt.Errorf("model: %s: %w: module %d %q (path %q) (want Transformer in the folder itself, Pooling, then optionally Normalize)", path, ErrConfig, i, mod.Type, mod.Path)
		}
	}
	if !sawTransformer {
		return opt, fmt.Errorf("model: %s: %w: no Transformer module", path, ErrConfig)
	}
	return opt, nil
}

// readPooling reads a Pooling module's config.json: exactly one of the mean
// and CLS modes.
func readPooling(path string) (Pooling, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("model: %w", err)
	}
	var p stPooling
	if err := json.Unmarshal(b, &p); err != nil {
		return 0, fmt.Errorf("model: %s: %w: %v", path, ErrConfig, err)
	}
	for _, f := range []struct {
		name string
		on   bool
	}{
		{"pooling_mode_max_tokens", p.Max}, {"pooling_mode_mean_sqrt_len_tokens", p.MeanSqrtLen},
		{"pooling_mode_weightedmean_tokens", p.WeightedMean}, {"pooling_mode_lasttoken", p.LastToken},
	} {
		if f.on {
			return 0, fmt.Errorf("model: %s: %w: %s is not implemented (mean and cls are)", path, ErrConfig, f.name)
		}
	}
	switch {
	case p.Mean && p.CLS:
		return 0, fmt.Errorf("model: %s: %w: both pooling_mode_mean_tokens and pooling_mode_cls_token (concatenated modes are not implemented)", path, ErrConfig)
	case p.Mean:
		return PoolMean, nil
	case p.CLS:
		return PoolCLS, nil
	}
	return 0, fmt.Errorf("model: %s: %w: no pooling mode is true", path, ErrConfig)
}
