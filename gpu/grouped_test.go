package gpu_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/gpu"
	"github.com/clattn/clattn/gpu/gputest"
	"github.com/clattn/clattn/internal/oracle"
	"github.com/clattn/clattn/internal/tolerance"
)

// TestUnfusedGroupedHalf checks the unfused path (Scores, Softmax in place,
// AttendValues: attn_bmm and the softmax kernels) with grouped-query and
// multi-query K/V, float16 K/V and NaN in padded keys' K/V against the float64
// oracle, in this device's kernels and in an H100's.
func TestUnfusedGroupedHalf(t *testing.T) {
	d := gputest.Device(t)
	cases := []oracle.Attention{
		{B: 2, H: 4, Hkv: 2, Sq: 5, Sk: 70, Dk: 24, Dv: 24, KVType: backend.Float16, Causal: backend.CausalBottomRight},
		{B: 1, H: 6, Hkv: 1, Sq: 33, Sk: 47, Dk: 40, Dv: 16, KVType: backend.Float16},
		{B: 2, H: 4, Hkv: 4, Sq: 17, Sk: 65, Dk: 8, Dv: 8, KVType: backend.Float16, Causal: backend.CausalTopLeft},
		{B: 1, H: 8, Hkv: 2, Sq: 3, Sk: 129, Dk: 64, Dv: 64, KVType: backend.Float32},
	}
	for _, as := range []struct {
		name string
		info *gpu.DeviceInfo
	}{{"own", nil}, {"H100", &gpu.H100}} {
		t.Run(as.name, func(t *testing.T) {
			if as.info != nil {
				d.PretendToBe(t, *as.info)
			}
			for i, c := range cases {
				t.Run(fmt.Sprintf("b=%d,h=%d,hkv=%d,sq=%d,sk=%d,d=%d,dv=%d,kv=%v", c.B, c.H, c.Hkv, c.Sq, c.Sk, c.Dk, c.Dv, c.KVType),
					func(t *testing.T) { checkUnfused(t, d, c, uint64(i)) })
			}
		})
	}
}

func checkUnfused(t *testing.T, d *gpu.Device, p oracle.Attention, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 11))
	p.Q = randomData(rng, p.B*p.H*p.Sq*p.Dk)
	p.K = randomData(rng, p.B*p.Hkv*p.Sk*p.Dk)
	p.V = randomData(rng, p.B*p.Hkv*p.Sk*p.Dv)
	for _, x := range [][]float32{p.K, p.V} {
		for i := range x {
			x[i] = backend.RoundTo(p.KVType, x[i])
		}
	}
	// Every fifth key of the last batch is padding, with NaN in its K and V.
	p.Padding = make([]float32, p.B*p.Sk)
	for j := 0; j < p.Sk; j += 5 {
		p.Padding[(p.B-1)*p.Sk+j] = 1
		for h := range p.Hkv {
			at := ((p.B-1)*p.Hkv+h)*p.Sk + j
			for e := range p.Dk {
				p.K[at*p.Dk+e] = float32(math.NaN())
			}
			for e := range p.Dv {
				p.V[at*p.Dv+e] = float32(math.NaN())
			}
		}
	}
	heads := func(dtype backend.DType, x []float32, h, s, dim int) backend.Heads {
		tt, err := d.UploadAs(dtype, x, p.B, h, s, dim)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tt.Release() })
		hv, _ := backend.HeadsOf(tt)
		return hv
	}
	q := heads(backend.Float32, p.Q, p.H, p.Sq, p.Dk)
	k := heads(p.KVType, p.K, p.Hkv, p.Sk, p.Dk)
	v := heads(p.KVType, p.V, p.Hkv, p.Sk, p.Dv)
	out := heads(backend.Float32, make([]float32, p.B*p.H*p.Sq*p.Dv), p.H, p.Sq, p.Dv)
	scores := mustUpload(t, d, make([]float32, p.B*p.H*p.Sq*p.Sk), p.B, p.H, p.Sq, p.Sk)
	opt := backend.AttentionOptions{Causal: p.Causal, KeyPadding: mustUpload(t, d, p.Padding, p.B, p.Sk)}
	if err := d.Scores(scores, q, k, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.Softmax(scores, scores, opt); err != nil {
		t.Fatal(err)
	}
	if err := d.AttendValues(out, scores, v); err != nil {
		t.Fatal(err)
	}
	ref, naive, _ := p.Run()
	if rep := tolerance.Check(mustDownload(t, d, out.T), ref, naive, tolerance.MaxAbs(p.V)); !rep.OK() {
		t.Errorf("unfused: %v", rep)
	}
}
