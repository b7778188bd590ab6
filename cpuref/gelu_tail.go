package cpuref

import "math"

// GELU's tails, |x/sqrt(2)| > 1.5: with u = |x|/sqrt(2), gelu(x) = x/2 *
// erfc(u) below (where 1 + erf cancels) and x/2 * (2 - erfc(u)) above, and
// erfc(u) = exp(-u^2) * erfcx(u). exp(-u^2) = exp(-x^2/2) takes an exact
// argument (x^2 of a float32 is exact in float64); erfcx, smooth and slowly
// varying, is a polynomial on each of erfcTailIntervals intervals of
// [erfcTailStart, erfcTailEnd) (relative error 1e-11, scripts/fit_erfcx.py).
// Beyond erfcTailEnd (|x| > 14.8) erfc is taken as 0: below, the result is
// x*0, that is -0 (NaN for -Inf, as the exact formula gives; GELU is under half
// the smallest float32 subnormal there), and above it is x.
//
// Every step is a float64 multiply, add, fused multiply-add (math.FMA) or exact
// scaling by a power of two, so the AVX-512 kernel (gelu_amd64.s), which reads
// these tables, rounds each lane exactly as geluTail does.
const (
	erfcTailStart     = 1.5
	erfcTailWidth     = 1.125
	erfcTailIntervals = 8
	erfcTailEnd       = erfcTailStart + erfcTailIntervals*erfcTailWidth // 10.5
)

// geluTailConst holds the scalars of the tail as the assembly reads them:
// 1/erfcTailWidth, erfcTailStart, erfcTailEnd, and for exp: log2(e), the
// rounding constant 1.5*2^52, -ln2 split into a float64 and the remainder.
var geluTailConst = [7]float64{
	1 / erfcTailWidth, erfcTailStart, erfcTailEnd,
	math.Log2E, 0x1.8p52, -math.Ln2, -(math.Ln2 - float64(math.Ln2)),
}

// erfcTailCentre is the centre of each interval.
var erfcTailCentre = [erfcTailIntervals]float64{
	erfcTailStart + 0.5*erfcTailWidth, erfcTailStart + 1.5*erfcTailWidth,
	erfcTailStart + 2.5*erfcTailWidth, erfcTailStart + 3.5*erfcTailWidth,
	erfcTailStart + 4.5*erfcTailWidth, erfcTailStart + 5.5*erfcTailWidth,
	erfcTailStart + 6.5*erfcTailWidth, erfcTailStart + 7.5*erfcTailWidth,
}

// erfcTailCoef[k][i] is the coefficient of s^(10-k) of erfcx(centre_i + s) on
// interval i (scripts/fit_erfcx.py): one row per power, as Horner's scheme
// and the kernel's per-lane table lookups take them.
var erfcTailCoef = [11][erfcTailIntervals]float64{
	{4.042286959299752e-06, 1.8840834644125415e-07, 1.51677306788437e-08, 1.8314063503694766e-09, 2.99462548204911e-10, 6.199296132858282e-11, 1.5544642305025875e-11, 4.353941925794026e-12},
	{-1.4641667558412075e-05, -8.378966753462151e-07, -8.122747960243763e-08, -1.1566130293775915e-08, -2.193442169580549e-09, -5.176318386606285e-10, -1.4491461362982363e-10, -4.6560995605215204e-11},
	{4.728237424560341e-05, 3.457042299898706e-06, 4.1317322452067563e-07, 7.044980423740166e-08, 1.5628347917964632e-08, 4.234337378207883e-09, 1.34060296445207e-09, 4.806931588501596e-10},
	{-0.00015874956167185076, -1.4614142965407026e-05, -2.135614268858596e-06, -4.339278953686337e-07, -1.1226221648383931e-07, -3.4850490488986504e-08, -1.2460506260124044e-08, -4.983743523526968e-09},
	{0.0005174054421682831, 6.045717947096776e-05, 1.0866541008986592e-05, 2.641788111713394e-06, 7.993183706998961e-07, 2.8486814760288447e-07, 1.1517529674784298e-07, 5.14498892048485e-08},
	{-0.0016239610356571516, -0.00024390172322900068, -5.433960974050645e-05, -1.5883775284922656e-05, -5.638488007663747e-06, -2.3119083181184285e-06, -1.0585955112662263e-06, -5.287270785014449e-07},
	{0.004901537863960617, 0.0009588022929857435, 0.00026693864892775635, 9.42933225416716e-05, 3.940052090553948e-05, 1.862739715662039e-05, 9.674398189989158e-06, 5.408574847753373e-06},
	{-0.014169202624941993, -0.00366593199493092, -0.0012870216388916162, -0.0005524293481683174, -0.0002726621339834261, -0.00014897788565019913, -8.790212267993805e-05, -5.506953017411279e-05},
	{0.039027060446067234, 0.013602763130831728, 0.006084158145225715, 0.0031924212296789442, 0.001868146296746537, 0.001182522290390618, 0.000793986252531695, 0.0005580706058094383},
	{-0.1017471203808408, -0.048857705634783366, -0.028168464470528076, -0.018187434459737566, -0.012668703273532695, -0.009314106935881335, -0.007128857034460255, -0.005628430940495358},
	{0.24888049618453745, 0.16933669983725683, 0.1275606611739252, 0.10208659610444032, 0.0850065115292939, 0.07278471935997599, 0.0636170388687122, 0.05649060307698202},
}

// expTaylor holds 1/k! for k = 11 down to 0: exp(r) for |r| <= ln2/2 by
// Horner's scheme, within 1e-15.
var expTaylor = [12]float64{
	1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880, 1.0 / 40320, 1.0 / 5040, 1.0 / 720,
	1.0 / 120, 1.0 / 24, 1.0 / 6, 1.0 / 2, 1, 1,
}

// geluTail is gelu(x) for |x/sqrt(2)| > 1.5 (inTailBranch), rounded once.
func geluTail(x float32) float32 {
	v := float64(x)
	u := math.Abs(v * (1 / math.Sqrt2))
	erfc := 0.0
	if u < geluTailConst[2] {
		i := min(int((u-geluTailConst[1])*geluTailConst[0]), erfcTailIntervals-1)
		s := u - erfcTailCentre[i]
		p := erfcTailCoef[0][i]
		for k := 1; k < len(erfcTailCoef); k++ {
			p = math.FMA(p, s, erfcTailCoef[k][i])
		}
		erfc = p * expNegHalfSquare(v)
	}
	if v > 0 {
		return float32(0.5 * v * (2 - erfc))
	}
	return float32(0.5 * v * erfc)
}

// expNegHalfSquare is exp(-v^2/2) for a float32 v with v^2/2 in [2.25, 110.25]:
// 2^n * exp(r) with n = round(a*log2(e)) and r = a - n*ln2 for the exact
// a = -v^2/2.
func expNegHalfSquare(v float64) float64 {
	a := float64(v*v) * -0.5
	t := math.FMA(a, geluTailConst[3], geluTailConst[4])
	n := t - geluTailConst[4]
	r := math.FMA(n, geluTailConst[5], a)
	r = math.FMA(n, geluTailConst[6], r)
	e := expTaylor[0]
	for _, c := range expTaylor[1:] {
		e = math.FMA(e, r, c)
	}
	return e * math.Float64frombits(uint64(int64(n)+1023)<<52)
}
