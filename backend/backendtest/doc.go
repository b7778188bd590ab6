// Package backendtest is the conformance suite every clattn backend must pass.
//
// An implementation runs it from one test in its own package:
//
//	func TestConformance(t *testing.T) {
//		b := mybackend.New()
//		defer b.Close()
//		backendtest.Run(t, b)
//	}
//
// RunShort runs the same checks on fewer shapes, for slow devices; RunOps runs
// the checks of some operations only, for a backend set up to take one code
// path. Verify runs the suite outside go test (gpubench verify) and returns one
// Result per subtest, with the numbers of its worst tolerance check.
//
// The suite checks every operation of backend.Backend against the project's
// float64 oracle (internal/oracle: naive loops on the float32 inputs) under its
// tolerance rule (internal/tolerance): the error may not exceed four times that of
// a naive float32 computation plus 1e-6 of the scale, nor 1e-5 of the scale
// plus 1e-5 of the value anywhere, where the scale is max|V| for attention
// outputs and the row's max|ref| otherwise. NaN and Inf must sit where the
// oracle has them.
//
// Beyond the shape tables (sequence lengths around tile edges, Sq != Sk, odd
// head dimensions, batch and head counts) it covers every mask kind alone and
// combined, fully masked rows (exact zeros), NaN behind masks, huge and equal
// logits, ill-conditioned LayerNorm rows, outputs written over their inputs,
// strided views with NaN-filled gaps that must stay untouched, zero-size
// tensors, metamorphic relations (key permutation, fused vs composed attention,
// packed vs contiguous heads), that inputs come back bitwise unchanged, that two
// runs agree bitwise, and the errors of bad calls (backend.ErrShape with the
// shapes in the message,
// ErrReleased, ErrForeignTensor, ErrArgument).
//
// Subtests are named by operation and shape, e.g.
// "Attention/b=2,h=3,sq=65,sk=129,d=59,dv=40,causal=topleft"; every random
// input is drawn from a PCG source seeded by the subtest's name, and failures
// print max-abs, max-rel, the count over the limit and the seed.
package backendtest
