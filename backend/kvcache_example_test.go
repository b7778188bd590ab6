package backend_test

import (
	"fmt"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

// A float16 KV cache shared by two query heads (grouped-query attention with
// one K/V head): a prompt of three tokens, then one more, each written with
// WriteKV and attended through KVHeads, never reallocated.
func ExampleBackend_WriteKV() {
	be := cpuref.New()
	defer be.Close()
	const heads, headsKV, capacity, dim = 2, 1, 8, 2
	kCache, _ := be.AllocAs(backend.Float16, 1, headsKV, capacity, dim)
	vCache, _ := be.AllocAs(backend.Float16, 1, headsKV, capacity, dim)

	// step writes n rows of K and V at position pos and attends the queries of
	// the last of them to every cached position.
	step := func(pos int, k, v []float32, q []float32) {
		n := len(k) / dim
		kt, _ := be.Upload(k, 1, headsKV, n, dim)
		vt, _ := be.Upload(v, 1, headsKV, n, dim)
		kh, _ := backend.HeadsOf(kt)
		vh, _ := backend.HeadsOf(vt)
		if err := be.WriteKV(kCache, kh, pos); err != nil {
			fmt.Println(err)
			return
		}
		if err := be.WriteKV(vCache, vh, pos); err != nil {
			fmt.Println(err)
			return
		}
		keys, _ := backend.KVHeads(kCache, pos+n)
		values, _ := backend.KVHeads(vCache, pos+n)
		qt, _ := be.Upload(q, 1, heads, 1, dim)
		qh, _ := backend.HeadsOf(qt)
		out, _ := be.Alloc(1, heads, 1, dim)
		oh, _ := backend.HeadsOf(out)
		if err := be.Attention(oh, qh, keys, values, backend.AttentionOptions{Causal: backend.CausalBottomRight}); err != nil {
			fmt.Println(err)
			return
		}
		got := make([]float32, heads*dim)
		_ = be.Download(got, out)
		fmt.Printf("after %d tokens: head 0 %.3f, head 1 %.3f\n", pos+n, got[:dim], got[dim:])
	}
	// Keys of zeros: every query weighs the cached values equally. The
	// values 0.1 are stored as the nearest half, 0.0999755859375.
	step(0, make([]float32, 3*dim), []float32{0.1, 1, 0.1, 2, 0.1, 3}, []float32{1, 0, 0, 1})
	step(3, make([]float32, dim), []float32{0.1, 4}, []float32{5, 5, -5, 5})

	// Writing past the capacity is an error that names position and capacity.
	big, _ := be.Upload(make([]float32, 5*dim), 1, headsKV, 5, dim)
	bh, _ := backend.HeadsOf(big)
	fmt.Println(be.WriteKV(kCache, bh, 4))
	// Output:
	// after 3 tokens: head 0 [0.100 2.000], head 1 [0.100 2.000]
	// after 4 tokens: head 0 [0.100 2.500], head 1 [0.100 2.500]
	// WriteKV: bad shape: positions 4..8 (5 rows from position 4) past capacity 8 of cache [1 1 8 2]
}
