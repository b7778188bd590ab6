package backendtest

import (
	"fmt"
	"math"
	"strings"

	"github.com/clattn/clattn/backend"
	"github.com/clattn/clattn/internal/tolerance"
)

// Result is the outcome of one subtest of the suite under Verify.
type Result struct {
	// Name is the subtest's path, e.g. "Attention/b=1,h=1,sq=1,sk=1,d=1"; Op is
	// its first element.
	Name string `json:"name"`
	Op   string `json:"op"`
	// Checks counts the tolerance comparisons the subtest made: 0 for those that
	// check only bits, shapes and errors. MaxAbs, MaxRel and Limit come from the
	// worst of them (the first that failed, else the one nearest its limit);
	// Limit is the ratio-rule limit on MaxAbs, 0 where only the hard cap applies.
	Checks int     `json:"checks"`
	MaxAbs float64 `json:"max_abs"`
	MaxRel float64 `json:"max_rel"`
	Limit  float64 `json:"limit"`
	Passed bool    `json:"passed"`
	// Messages are the subtest's failure messages, a panic of the backend included.
	Messages []string `json:"messages,omitempty"`
}

// Verify runs the conformance suite against b outside go test (full: Run's
// shapes, else RunShort's) and returns one Result per subtest, in the order
// they ran. A panic in b fails the subtest it happened in and the suite goes
// on. b stays open; the caller closes it.
func Verify(b backend.Backend, full bool, opts ...Option) []Result {
	var results []Result
	run(&recorder{results: &results}, b, full, nil, opts)
	return results
}

// recorder is the tester of Verify: it runs subtests on the calling goroutine
// and records each leaf (and any subtest that fails itself) as a Result.
type recorder struct {
	name     string
	results  *[]Result
	cleanups []func()
	parent   bool // has run subtests
	failed   bool // the subtest or one of its subtests failed
	messages []string
	checks   int
	worst    tolerance.Report
}

// fatal is the panic value of recorder.Fatalf, recovered by the recorder's Run.
type fatal struct{}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return r.name }

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.messages = append(r.messages, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(fatal{})
}

// Run runs f as the subtest name, then its cleanups (last first), and records
// its Result. A Fatalf or panic ends only this subtest.
func (r *recorder) Run(name string, f func(tester)) bool {
	r.parent = true
	sub := &recorder{name: name, results: r.results}
	if r.name != "" {
		sub.name = r.name + "/" + name
	}
	sub.guard(func() { f(sub) })
	for i := len(sub.cleanups) - 1; i >= 0; i-- {
		sub.guard(sub.cleanups[i])
	}
	sub.record()
	if sub.failed {
		r.failed = true
	}
	return !sub.failed
}

// guard runs f, turning a panic other than Fatalf's into a failure.
func (r *recorder) guard(f func()) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(fatal); !ok {
				r.Errorf("panic: %v", p)
			}
		}
	}()
	f()
}

// check keeps the worst tolerance report of the subtest.
func (r *recorder) check(rep tolerance.Report) {
	if r.checks == 0 || worse(rep, r.worst) {
		r.worst = rep
	}
	r.checks++
}

// worse reports whether a is worse than b: failed before passed, then nearer its limit.
func worse(a, b tolerance.Report) bool {
	if a.OK() != b.OK() {
		return !a.OK()
	}
	if !a.OK() {
		return false // keep the first failure
	}
	return fractionOfLimit(a) > fractionOfLimit(b)
}

func fractionOfLimit(r tolerance.Report) float64 {
	if r.Limit > 0 && !math.IsInf(r.Limit, 0) {
		return r.MaxAbs / r.Limit
	}
	return 0
}

// record appends the subtest's Result: every leaf, and a parent that failed itself.
func (r *recorder) record() {
	if r.parent && len(r.messages) == 0 && r.checks == 0 {
		return
	}
	op, _, _ := strings.Cut(r.name, "/")
	res := Result{Name: r.name, Op: op, Checks: r.checks, Passed: len(r.messages) == 0, Messages: r.messages}
	if r.checks > 0 {
		res.MaxAbs, res.MaxRel = r.worst.MaxAbs, r.worst.MaxRel
		if !math.IsInf(r.worst.Limit, 0) {
			res.Limit = r.worst.Limit
		}
	}
	*r.results = append(*r.results, res)
}
