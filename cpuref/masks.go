package cpuref

import (
	"math"

	"github.com/clattn/clattn/backend"
)

var negInf = float32(math.Inf(-1))

// masks is the combined mask of one attention call. A position is out (score
// -Inf) where any mask says so; an additive mask is added to the score first.
type masks struct {
	// causal is false without a causal mask; else query i sees keys j <= i + shift.
	causal bool
	shift  int
	// mask is the optional [Sq,Sk] or [B,H,Sq,Sk] mask, addressed through layout.
	mask     []float32
	additive bool
	layout   backend.MaskLayout
	sk       int
	// padding is the optional [B,Sk] key padding mask; nonzero = ignored key.
	padding []float32
	// padEnd[b] is one past the last key of batch b that padding leaves in
	// (nil without padding).
	padEnd []int
}

// masksOf resolves the masks of opt for an attention call of sizes d.
func (b *Backend) masksOf(op string, d backend.AttentionDims, opt backend.AttentionOptions) (masks, error) {
	m := masks{sk: d.SeqK, layout: d.Mask, additive: opt.MaskKind == backend.MaskAdditive}
	switch opt.Causal {
	case backend.CausalTopLeft:
		m.causal = true
	case backend.CausalBottomRight:
		m.causal, m.shift = true, d.SeqK-d.SeqQ
	}
	if err := b.bind(op, binding{"mask", opt.Mask, &m.mask}, binding{"key padding", opt.KeyPadding, &m.padding}); err != nil {
		return masks{}, err
	}
	if m.padding != nil {
		m.padEnd = make([]int, d.Batch)
		for bi := range m.padEnd {
			row := m.padding[bi*d.SeqK:][:d.SeqK]
			end := len(row)
			for end > 0 && row[end-1] != 0 {
				end--
			}
			m.padEnd[bi] = end
		}
	}
	return m, nil
}

// keyEnd is one past the last key that any of the queries [i0, i1) can see
// under the causal mask (sk without one); it may be <= 0.
func (m *masks) keyEnd(i1 int) int {
	if !m.causal {
		return m.sk
	}
	return min(m.sk, i1+m.shift)
}

// visibleEnd is keyEnd for the queries of batch b, also cut after the last
// key the key padding leaves in: a right-padded row's padding is never read.
// The keys cut off would all score -Inf and weigh exactly 0, so the result
// is the same.
func (m *masks) visibleEnd(b, i1 int) int {
	end := m.keyEnd(i1)
	if m.padEnd != nil {
		end = min(end, m.padEnd[b])
	}
	return end
}

// apply masks a tile of scores: s holds rows [i0, i0+rows) of batch b, head h,
// and keys [j0, j0+cols), with leading dimension lds.
func (m *masks) apply(s []float32, lds, b, h, i0, rows, j0, cols int) {
	if m.mask != nil {
		base := b*m.layout.BatchStride + h*m.layout.HeadStride
		for r := range rows {
			row := s[r*lds : r*lds+cols]
			mrow := m.mask[base+(i0+r)*m.sk+j0:][:cols]
			if m.additive {
				addTo(row, mrow)
				continue
			}
			for j, v := range mrow {
				if v != 0 {
					row[j] = negInf
				}
			}
		}
	}
	if m.padding != nil {
		prow := m.padding[b*m.sk+j0:][:cols]
		for j, v := range prow {
			if v != 0 {
				for r := range rows {
					s[r*lds+j] = negInf
				}
			}
		}
	}
	if m.causal {
		for r := range rows {
			// Keys j0+first ... are beyond query i0+r's horizon.
			first := max(i0+r+m.shift+1-j0, 0)
			if first < cols {
				row := s[r*lds : r*lds+cols]
				for j := first; j < cols; j++ {
					row[j] = negInf
				}
			}
		}
	}
}
