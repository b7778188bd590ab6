package backend_test

import (
	"fmt"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

// Decoding with a KV cache: the new token's query (Sq = 1) attends to every
// cached key and itself (Sk = 4). A causal mask aligned bottom-right lets the
// last query see every key; top-left (PyTorch's is_causal) would let it see
// only the first. With Sq = Sk the two alignments agree.
func ExampleCausalMode_decoding() {
	be := cpuref.New()
	defer be.Close()
	// One head, d = 1: three cached keys and the new token's key, all scoring 0,
	// so the weights are uniform over whatever the mask lets through.
	q, _ := be.Upload([]float32{0}, 1, 1, 1, 1)
	k, _ := be.Upload([]float32{0, 0, 0, 0}, 1, 1, 4, 1)
	v, _ := be.Upload([]float32{1, 2, 3, 4}, 1, 1, 4, 1)
	out, _ := be.Alloc(1, 1, 1, 1)
	qh, _ := backend.HeadsOf(q)
	kh, _ := backend.HeadsOf(k)
	vh, _ := backend.HeadsOf(v)
	oh, _ := backend.HeadsOf(out)
	for _, c := range []struct {
		name string
		mode backend.CausalMode
	}{{"bottom-right", backend.CausalBottomRight}, {"top-left", backend.CausalTopLeft}} {
		if err := be.Attention(oh, qh, kh, vh, backend.AttentionOptions{Causal: c.mode}); err != nil {
			fmt.Println(err)
			return
		}
		got := make([]float32, 1)
		_ = be.Download(got, out)
		fmt.Printf("%-12s mean of the visible values: %.2f\n", c.name, got[0])
	}
	// Output:
	// bottom-right mean of the visible values: 2.50
	// top-left     mean of the visible values: 1.00
}
