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
	"github.com/clattn/clattn/internal/parallel"
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

// Embed pools each row of out into one embedding of out.Dim values. Rows are
// pooled on every core, each row by one.
func (o EmbeddingOptions) Embed(out *BertOutput) ([][]float32, error) {
	switch {
	case o.Pooling == PoolPooler && out.Pooler == nil:
		return nil, fmt.Errorf("Embed: %w: pooling %s, but the model has no pooler (pooler.dense.*)", backend.ErrArgument, o.Pooling)
	case o.Pooling != PoolMean && o.Pooling != PoolCLS && o.Pooling != PoolPooler:
		return nil, fmt.Errorf("Embed: %w: unknown pooling %v", backend.ErrArgument, o.Pooling)
	}
	e := out.Dim
	embs := make([][]float32, out.Batch)
	parallel.For(out.Batch, func(i int) {
		emb := make([]float32, e)
		switch o.Pooling {
		case PoolMean:
			sum := make([]float64, e)
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
		}
		if o.Normalize {
			normalize(emb)
		}
		embs[i] = emb
	})
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

// LoadSentenceEncoder loads a Hugging Face or sentence-transformers folder
// (see ReadSentenceTransformer): config.json and model.safetensors, in the
// folder or in its Transformer module's subfolder, and the pooling and
// normalisation its modules.json gives.
func LoadSentenceEncoder(be backend.Backend, dir string) (*SentenceEncoder, error) {
	st, err := ReadSentenceTransformer(dir)
	if err != nil {
		return nil, err
	}
	m, err := LoadBertDir(be, st.ModelDir)
	if err != nil {
		return nil, err
	}
	if st.Options.Pooling == PoolPooler && !m.HasPooler() {
		return nil, errors.Join(fmt.Errorf("model: %s: pooling %s, but the model has no pooler", dir, st.Options.Pooling), m.Close())
	}
	return &SentenceEncoder{Model: m, Options: st.Options}, nil
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

// SentenceTransformerFolder is what a sentence-transformers folder's
// modules.json says: where the transformer's files are and how its output
// becomes a sentence embedding.
type SentenceTransformerFolder struct {
	// ModelDir holds config.json and model.safetensors: the folder itself, or
	// the subfolder of its Transformer module (older models: 0_BERT, ...).
	ModelDir string
	Options  EmbeddingOptions
}

// ReadSentenceTransformer reads modules.json of dir: a Transformer module,
// then a Pooling module (mean or CLS, from its config.json) and optionally
// Normalize. A folder without modules.json is a plain Hugging Face model:
// mean pooling without normalisation, as sentence-transformers gives it. A
// module or pooling mode that changes the result and is not implemented
// (Dense, max pooling, ...) is an error naming it, as is a module path that
// leaves the folder.
func ReadSentenceTransformer(dir string) (SentenceTransformerFolder, error) {
	st := SentenceTransformerFolder{ModelDir: dir, Options: EmbeddingOptions{Pooling: PoolMean}}
	path := filepath.Join(dir, "modules.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("model: %w", err)
	}
	var modules []stModule
	if err := json.Unmarshal(b, &modules); err != nil {
		return st, fmt.Errorf("model: %s: %w: %v", path, ErrConfig, err)
	}
	for i, mod := range modules {
		kind := mod.Type[strings.LastIndex(mod.Type, ".")+1:]
		sub := filepath.Clean(mod.Path)
		if !filepath.IsLocal(sub) {
			return st, fmt.Errorf("model: %s: %w: module %d path %q leaves the folder", path, ErrConfig, i, mod.Path)
		}
		switch {
		case (kind == "Transformer" || kind == "BERT") && i == 0:
			st.ModelDir = filepath.Join(dir, sub)
		case kind == "Pooling" && i == 1:
			if st.Options.Pooling, err = readPooling(filepath.Join(dir, sub, "config.json")); err != nil {
				return st, err
			}
		case kind == "Normalize" && i == 2 && i == len(modules)-1:
			st.Options.Normalize = true
		default:
			return st, fmt.Errorf("model: %s: %w: module %d %q (path %q) (want Transformer, Pooling, then optionally Normalize)", path, ErrConfig, i, mod.Type, mod.Path)
		}
	}
	if len(modules) < 2 {
		return st, fmt.Errorf("model: %s: %w: %d modules (want Transformer, Pooling, then optionally Normalize)", path, ErrConfig, len(modules))
	}
	return st, nil
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
