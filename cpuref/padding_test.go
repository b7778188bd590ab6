package cpuref_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/cpuref"
)

// TestAttentionKeyPaddingIsExact checks that attention over the first n keys
// gives bit for bit what attention over n keys followed by padding keys
// (masked by KeyPadding, NaN in their K rows) gives, fused and unfused, on the
// decode path (5 query rows) and the flash path (40, which stops reading at
// the last key the padding leaves in): what lets a right-padded batch
// reproduce each row's result alone. Lengths cover 1, the 8-wide vector width
// +-1 and more than one 256-key tile.
func TestAttentionKeyPaddingIsExact(t *testing.T) {
	be := cpuref.New()
	defer be.Close()
	r := newRand(11)
	for _, c := range []struct{ n, total, d int }{{1, 9, 8}, {7, 16, 32}, {8, 24, 32}, {9, 24, 16}, {13, 40, 32}, {300, 520, 8}} {
		for _, sq := range []int{5, 40} {
			t.Run(fmt.Sprintf("queries=%d/keys=%d/padded=%d/dim=%d", sq, c.n, c.total, c.d), func(t *testing.T) {
				const heads = 2
				q := upload(t, be, uniform(r, heads*sq*c.d), 1, heads, sq, c.d)
				kv := uniform(r, 2*heads*c.total*c.d)
				full := func(off int) backend.Tensor {
					data := append([]float32(nil), kv[off:off+heads*c.total*c.d]...)
					if off == 0 { // the keys: NaN in the padded rows
						for h := range heads {
							for j := c.n; j < c.total; j++ {
								for e := range c.d {
									data[(h*c.total+j)*c.d+e] = float32(math.NaN())
								}
							}
						}
					}
					return upload(t, be, data, 1, heads, c.total, c.d)
				}
				short := func(off int) backend.Tensor {
					data := make([]float32, 0, heads*c.n*c.d)
					for h := range heads {
						data = append(data, kv[off+h*c.total*c.d:][:c.n*c.d]...)
					}
					return upload(t, be, data, 1, heads, c.n, c.d)
				}
				pad := make([]float32, c.total)
				for j := c.n; j < c.total; j++ {
					pad[j] = 1
				}
				kp := upload(t, be, pad, 1, c.total)
				run := func(k, v backend.Tensor, opt backend.AttentionOptions) (fused, unfused []float32) {
					qh, _ := backend.HeadsOf(q)
					kh, _ := backend.HeadsOf(k)
					vh, _ := backend.HeadsOf(v)
					out, err := be.Alloc(1, heads, sq, c.d)
					noErr(t, err)
					oh, _ := backend.HeadsOf(out)
					noErr(t, be.Attention(oh, qh, kh, vh, opt))
					w, err := be.Alloc(1, heads, sq, kh.Seq)
					noErr(t, err)
					noErr(t, be.Scores(w, qh, kh, 0))
					noErr(t, be.Softmax(w, w, opt))
					out2, err := be.Alloc(1, heads, sq, c.d)
					noErr(t, err)
					o2, _ := backend.HeadsOf(out2)
					noErr(t, be.AttendValues(o2, w, vh))
					return download(t, be, out), download(t, be, out2)
				}
				aloneF, aloneU := run(short(0), short(heads*c.total*c.d), backend.AttentionOptions{})
				padF, padU := run(full(0), full(heads*c.total*c.d), backend.AttentionOptions{KeyPadding: kp})
				truef(t, sameBits32(aloneF, padF), "fused attention: padded keys change the result")
				truef(t, sameBits32(aloneU, padU), "unfused attention: padded keys change the result")
			})
		}
	}
}

// sameBits32 reports whether a and b hold the same float32 bit patterns.
func sameBits32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
