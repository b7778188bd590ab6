package cpuref

import "sync"

// buffers recycles float32 scratch slices between operations and goroutines.
var buffers sync.Pool

// getBuffer returns a scratch slice of length n with undefined contents;
// give it back with putBuffer.
func getBuffer(n int) *[]float32 {
	p, _ := buffers.Get().(*[]float32)
	if p == nil {
		p = new([]float32)
	}
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

func putBuffer(p *[]float32) { buffers.Put(p) }
