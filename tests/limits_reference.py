"""Independent reference values for tests/limits.rs: one layer of the tanh
NNGP and NTK maps at q = 2.5, rho = 0.9, computed in mpmath at 20 digits
with its own tanh-sinh quadrature (split at 0 and +-3 standard deviations),
sharing no code with initaudit; and, for comparison, what a 25-point
Gauss-Hermite product rule (neural-tangents' default for activations
without a closed form) gives for the same two expectations.

    pip install mpmath numpy && python3 tests/limits_reference.py

Printed (20 digits; about two minutes):
    E[tanh(u) tanh(v)]   = 0.48542304282960050489
    E[tanh'(u) tanh'(v)] = 0.27452907814628176767
    Gauss-Hermite 25:      0.48509087349024105  0.27646554567794124
"""
from mpmath import mp, mpf, quad, tanh, sech, exp, sqrt, pi, inf
import numpy as np

mp.dps = 20
q, r = mpf("2.5"), mpf("0.9")


def pair(g):
    s, t = sqrt(q), sqrt(1 - r * r)
    cuts = [-inf, -3, 0, 3, inf]
    return quad(lambda a, b: g(s * a, s * (r * a + t * b)) * exp(-(a * a + b * b) / 2),
                cuts, cuts) / (2 * pi)


print("E[tanh(u) tanh(v)]   =", pair(lambda u, v: tanh(u) * tanh(v)))
print("E[tanh'(u) tanh'(v)] =", pair(lambda u, v: sech(u) ** 2 * sech(v) ** 2))

x, w = np.polynomial.hermite.hermgauss(25)
X1, X2 = np.meshgrid(x, x, indexing="ij")
W = np.outer(w, w) / np.pi
qf, rf = 2.5, 0.9
u = np.sqrt(2 * qf) * X1
v = np.sqrt(2 * qf) * (rf * X1 + np.sqrt(1 - rf * rf) * X2)
print("Gauss-Hermite 25:     ", (W * np.tanh(u) * np.tanh(v)).sum(),
      (W / np.cosh(u) ** 2 / np.cosh(v) ** 2).sum())
