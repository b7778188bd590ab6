#!/usr/bin/python3
"""Fits the coefficients of cpuref's GELU tail (cpuref/gelu_tail.go).

erfcx(u) = exp(u^2) * erfc(u) on [1.5, 10.5] is split into 8 intervals of
width 1.125; on each, a degree-10 polynomial in s = u - centre is fitted by
least squares weighted for relative error, on Chebyshev nodes of the interval
widened by 2% (so that a value rounded into the neighbouring interval is still
covered), against mpmath at 40 digits. Prints the Go table and the worst
relative error. Needs numpy and mpmath: /usr/bin/python3 scripts/fit_erfcx.py
"""
import mpmath
import numpy as np

mpmath.mp.dps = 40
LO, WIDTH, INTERVALS, DEGREE = 1.5, 1.125, 8, 10


def erfcx(u):
    u = mpmath.mpf(u)
    return mpmath.exp(u * u) * mpmath.erfc(u)


coefs, worst = [], 0.0
for i in range(INTERVALS):
    centre = LO + (i + 0.5) * WIDTH
    half = WIDTH / 2 * 1.02
    nodes = np.cos(np.pi * (np.arange(400) + 0.5) / 400) * half
    y = np.array([float(erfcx(centre + s)) for s in nodes])
    c = np.polynomial.polynomial.polyfit(nodes, y, DEGREE, w=1 / y)
    coefs.append(c)
    check = np.linspace(-half, half, 301)
    exact = np.array([erfcx(centre + s) for s in check])
    fit = np.polynomial.polynomial.polyval(check, c)
    worst = max(worst, max(abs(float(mpmath.mpf(f) / e - 1)) for f, e in zip(fit, exact)))

print("// worst relative error of the fit: %.2g" % worst)
print("var erfcTailCoef = [%d][%d]float64{" % (DEGREE + 1, INTERVALS))
for k in range(DEGREE, -1, -1):
    print("\t{" + ", ".join(repr(float(coefs[i][k])) for i in range(INTERVALS)) + "},")
print("}")
