package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clattn/clattn"
	"github.com/clattn/clattn/bench"
	"github.com/clattn/clattn/internal/outfile"
	"github.com/clattn/clattn/model"
)

func init() {
	register("embed", "sentence embeddings from a Hugging Face / sentence-transformers BERT-family folder", cmdEmbed)
}

const embedUsage = `--model DIR --input-ids "101,7,102;101,9,18,102" [--token-type-ids "0,0,0;0,0,1,1"] [--pooling mean|cls|pooler] [--normalize] [--device D] [--json F] [--reps N]

DIR holds config.json and model.safetensors (BertModel, BertForMaskedLM, RoBERTa, XLM-R names), and, for a
sentence-transformers model, modules.json with 1_Pooling/config.json and 2_Normalize: they give the pooling and
normalisation unless --pooling / --normalize say otherwise (without them: mean pooling, not normalised).
--input-ids holds one row of token ids per sentence ([CLS] ... [SEP] included), rows separated by ';'.`

// embedJSON is what --json writes.
type embedJSON struct {
	Embeddings [][]float32 `json:"embeddings"`
	Device     string      `json:"device"`
	Pooling    string      `json:"pooling"`
	Normalize  bool        `json:"normalize"`
}

func cmdEmbed(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("embed", stderr, embedUsage)
	dir := fs.String("model", "", "model folder (required)")
	idsFlag := fs.String("input-ids", "", `token id rows: "1,2,3;4,5" (required)`)
	typesFlag := fs.String("token-type-ids", "", `segment id rows of the same lengths, e.g. "0,0,1;0,0" (default: all 0)`)
	pooling := fs.String("pooling", "", "mean, cls or pooler (default: the folder's Pooling module, else mean)")
	normalize := fs.Bool("normalize", false, "L2-normalise the embeddings (default: whether the folder has a Normalize module)")
	device := fs.String("device", "", "device spec (default $CLATTN_DEVICE or auto)")
	jsonPath := fs.String("json", "", `write {"embeddings": [[...], ...], "device": ...} to this file`)
	reps := fs.Int("reps", 3, "runs of the batch; throughput is the median run's")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf(fs, "unexpected argument %q", fs.Arg(0))
	}
	if *dir == "" {
		return usageErrorf(fs, "--model is required")
	}
	if *idsFlag == "" {
		return usageErrorf(fs, "--input-ids is required")
	}
	if *reps <= 0 {
		return usageErrorf(fs, "--reps %d: want > 0", *reps)
	}
	ids, err := parseTokenRows(*idsFlag)
	if err != nil {
		return usageErrorf(fs, "--input-ids: %v", err)
	}
	var types [][]int
	if *typesFlag != "" {
		if types, err = parseTokenRows(*typesFlag); err != nil {
			return usageErrorf(fs, "--token-type-ids: %v", err)
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var poolingOverride model.Pooling
	if set["pooling"] {
		if poolingOverride, err = model.ParsePooling(*pooling); err != nil {
			return usageErrorf(fs, "--pooling: %v", err)
		}
	}
	st, err := model.ReadSentenceTransformer(*dir)
	if err != nil {
		return err
	}
	out := embedOutput(*jsonPath, *dir, st.ModelDir)
	if *jsonPath != "" {
		if err := out.Check(); err != nil {
			return err
		}
	}
	opt := st.Options
	if set["pooling"] {
		opt.Pooling = poolingOverride
	}
	if set["normalize"] {
		opt.Normalize = *normalize
	}
	b, err := clattn.Open(*device)
	if err != nil {
		return err
	}
	defer b.Close()
	m, err := model.LoadBertDir(b, st.ModelDir)
	if err != nil {
		return err
	}
	defer m.Close()
	if opt.Pooling == model.PoolPooler && !m.HasPooler() {
		return fmt.Errorf("--pooling pooler: %s has no pooler (pooler.dense.*)", *dir)
	}
	var embs [][]float32
	times := make([]float64, 0, *reps)
	for range *reps {
		start := time.Now()
		out, err := m.Forward(ids, types)
		if err != nil {
			return err
		}
		if embs, err = opt.Embed(out); err != nil {
			return err
		}
		times = append(times, time.Since(start).Seconds())
	}
	slices.Sort(times)
	sec := times[len(times)/2]
	tokens := 0
	for i, e := range embs {
		tokens += len(ids[i])
		fmt.Fprintf(stdout, "row %d (%d tokens): %s\n", i, len(ids[i]), preview(e))
	}
	fmt.Fprintf(stdout, "embed: %d sequences, %d tokens, dim %d, pooling %s, normalize %v on %s: %.3f ms (median of %d): %.1f sequences/s, %.0f tokens/s\n",
		len(embs), tokens, len(embs[0]), opt.Pooling, opt.Normalize, b.Name(), 1000*sec, len(times), float64(len(embs))/sec, float64(tokens)/sec)
	if *jsonPath == "" {
		return nil
	}
	return out.Write(func(w io.Writer) error {
		return json.NewEncoder(w).Encode(embedJSON{Embeddings: embs, Device: b.Name(), Pooling: opt.Pooling.String(), Normalize: opt.Normalize})
	})
}

// parseTokenRows reads "1,2,3;4,5": rows separated by ';', ids by ','. An
// empty row stays empty (the model refuses it, naming the row).
func parseTokenRows(s string) ([][]int, error) {
	var rows [][]int
	for i, part := range strings.Split(s, ";") {
		row := []int{}
		part = strings.TrimSpace(part)
		if part != "" {
			for _, f := range strings.Split(part, ",") {
				id, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil {
					return nil, fmt.Errorf("row %d: %q is not an integer token id", i, strings.TrimSpace(f))
				}
				row = append(row, id)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// preview shows the first and last values of an embedding and its L2 norm.
func preview(e []float32) string {
	var parts []string
	for i, v := range e {
		if i < 4 || i >= len(e)-2 {
			parts = append(parts, strconv.FormatFloat(float64(v), 'f', 4, 32))
		} else if i == 4 {
			parts = append(parts, "...")
		}
	}
	var ss float64
	for _, v := range e {
		ss += float64(v) * float64(v)
	}
	return fmt.Sprintf("[%s] norm %.4f", strings.Join(parts, " "), math.Sqrt(ss))
}

// embedOutput is the --json target: never one of the model folder's files,
// never a file that is not an embeddings JSON (a file of another kind is
// never overwritten), written through a temporary file renamed over it.
func embedOutput(path, dir, modelDir string) outfile.Target {
	inputs := []string{filepath.Join(dir, "modules.json"), filepath.Join(dir, "1_Pooling", "config.json"),
		filepath.Join(modelDir, "config.json"), filepath.Join(modelDir, "model.safetensors")}
	return outfile.Target{Path: path, Inputs: inputs, Kind: func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var prev map[string]json.RawMessage
		if json.Unmarshal(b, &prev) != nil || prev["embeddings"] == nil {
			return errors.New("not an embeddings JSON")
		}
		return nil
	}}
}

// embedShape is s with bench.MiniLM's size for every size flag not given on
// the command line.
func embedShape(fs *flag.FlagSet, s bench.Shape) bench.Shape {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	d := bench.MiniLM
	for _, v := range []struct {
		flag     string
		dst      *int
		fallback int
	}{
		{"batch", &s.Batch, d.Batch}, {"seq", &s.Seq, d.Seq}, {"d-model", &s.DModel, d.DModel},
		{"heads", &s.Heads, d.Heads}, {"d-ff", &s.DFF, d.DFF}, {"layers", &s.Layers, d.Layers},
	} {
		if !set[v.flag] {
			*v.dst = v.fallback
		}
	}
	return s
}
