#!/usr/bin/python3
"""Fits the polynomial of cpuref's GELU on |x|/sqrt(2) <= 1.5 (cpuref/mathf.go).

There erf(z) = z * R(z^2), and R(t) = erf(sqrt(t))/sqrt(t) on [0, 2.25] is a
degree-10 polynomial in t, fitted by least squares on Chebyshev nodes against
mpmath at 40 digits (close to the minimax fit) and rounded to float64. Prints
the Go table and the worst absolute error of z * R(z^2) against erf(z) on a
dense grid, the coefficients taken as rounded. Needs numpy and mpmath:
/usr/bin/python3 scripts/fit_erf.py
"""
import mpmath
import numpy as np

mpmath.mp.dps = 40
T, DEGREE, NODES = 2.25, 10, 600


def ratio(t):
    t = mpmath.mpf(t)
    if t == 0:
        return 2 / mpmath.sqrt(mpmath.pi)
    z = mpmath.sqrt(t)
    return mpmath.erf(z) / z


# Fit in s = 2t/T - 1 on [-1, 1], for conditioning, then rewrite in t.
nodes = (np.cos(np.pi * (np.arange(NODES) + 0.5) / NODES) + 1) / 2 * T
cheb = np.polynomial.chebyshev.chebfit(nodes / T * 2 - 1, [float(ratio(t)) for t in nodes], DEGREE)
in_s = np.polynomial.Polynomial(np.polynomial.chebyshev.cheb2poly(cheb))
coef = [float(c) for c in in_s(np.polynomial.Polynomial([-1, 2 / T])).coef]

worst = 0.0
for t in np.linspace(0, T, 20001):
    z = mpmath.sqrt(mpmath.mpf(t))
    p = mpmath.mpf(0)
    for c in reversed(coef):
        p = p * mpmath.mpf(t) + mpmath.mpf(c)
    worst = max(worst, float(abs(z * p - mpmath.erf(z))))

print("// worst absolute error of z*R(z^2) against erf(z): %.2g" % worst)
print("var erfRatioCoef = [%d]float64{" % (DEGREE + 1))
for c in reversed(coef):
    print("\t%r," % c)
print("}")
