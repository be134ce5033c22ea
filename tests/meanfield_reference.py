"""Independent reference values for tests/meanfield.rs: the mean-field
quantities of tanh (Poole et al. 2016, Schoenholz et al. 2017), computed in
mpmath at 20 significant digits with its own Gauss-Legendre quadrature and
root finding, sharing no code with initaudit.

    pip install mpmath && python3 tests/meanfield_reference.py

Definitions (z, z1, z2 independent standard normals):
    length map   q -> s2 E[f(sqrt(q) z)^2] + b2, q* its fixed point
    chi_1        s2 E[f'(sqrt(q*) z)^2]
    c-map        c -> (s2 E[f(u1) f(u2)] + b2) / q*, u1 = sqrt(q*) z1,
                 u2 = sqrt(q*) (c z1 + sqrt(1 - c^2) z2); c* its fixed point
                 (1 when chi_1 <= 1, the stable one)
    chi_c        s2 E[f'(u1) f'(u2)] at c*
    xi_q         -1 / log(chi_1 + s2 E[f''(sqrt(q*) z) f(sqrt(q*) z)])
    xi_c         -1 / log(chi_c)
    edge         the s2 with chi_1(q*(s2)) = 1
"""
from mpmath import mp, mpf, exp, sqrt, pi, tanh, sech, log, findroot
from mpmath.calculus.quadrature import GaussLegendre

mp.dps = 20

# Fixed Gauss-Legendre: 12 nodes on each unit piece of [-9, 9] in units of
# the standard normal (the mass beyond is 2e-19). tanh, tanh' and tanh''
# of the pair's arguments are analytic within 1.5 of the real axis for
# the q below (poles at i pi / 2 over the argument's scale), three times a
# piece's half-width, so each piece converges like 6.9^-24, below the 1e-16
# that the tests' 1e-9 relative tolerances need. The 1-D values (the edge,
# its q*, the ordered point) agree to every printed digit with mpmath's
# adaptive tanh-sinh quad over [-inf, inf] and with 24 nodes on [-10, 10].
_GL = GaussLegendre(mp).calc_nodes(3, mp.prec)
NODES = [(k + (x + 1) / 2, w / 2) for k in range(-9, 9) for (x, w) in _GL]


def gauss(g):
    return sum(w * g(z) * exp(-z * z / 2) for z, w in NODES) / sqrt(2 * pi)


def gauss2(g):
    total = mpf(0)
    for z1, w1 in NODES:
        e1 = w1 * exp(-z1 * z1 / 2)
        total += e1 * sum(w2 * g(z1, z2) * exp(-z2 * z2 / 2) for z2, w2 in NODES)
    return total / (2 * pi)


f = tanh
df = lambda x: sech(x) ** 2
ddf = lambda x: -2 * tanh(x) * sech(x) ** 2


def qstar(s2, b2):
    return findroot(lambda q: s2 * gauss(lambda z: f(sqrt(q) * z) ** 2) + b2 - q, mpf(1))


def chi1(s2, q):
    return s2 * gauss(lambda z: df(sqrt(q) * z) ** 2)


def pair(q, c, g):
    s = sqrt(q)
    return gauss2(lambda z1, z2: g(s * z1, s * (c * z1 + sqrt(1 - c * c) * z2)))


def report(s2, b2):
    q = qstar(s2, b2)
    x1 = chi1(s2, q)
    if x1 <= 1:
        c = mpf(1)
        xc = x1
    else:
        c = findroot(lambda c: (s2 * pair(q, c, lambda a, b: f(a) * f(b)) + b2) / q - c, mpf("0.5"))
        xc = s2 * pair(q, c, lambda a, b: df(a) * df(b))
    xq = -1 / log(x1 + s2 * gauss(lambda z: ddf(sqrt(q) * z) * f(sqrt(q) * z)))
    print(f"s2={s2} b2={b2}: q*={mp.nstr(q, 12)} chi_1={mp.nstr(x1, 12)} c*={mp.nstr(c, 12)} "
          f"chi_c={mp.nstr(xc, 12)} xi_q={mp.nstr(xq, 12)} xi_c={mp.nstr(-1 / log(xc), 12)}")


b2 = mpf("0.05")
edge = findroot(lambda s2: chi1(s2, qstar(s2, b2)) - 1, mpf("1.76"))
print(f"edge b2=0.05: s2={mp.nstr(edge, 12)} sigma_w={mp.nstr(sqrt(edge), 12)} "
      f"q*={mp.nstr(qstar(edge, b2), 12)}")
report(mpf("0.8"), b2)
report(mpf("2.5"), b2)

# Output (20 digits carried, 12 shown), the values tests/meanfield.rs uses:
# edge b2=0.05: s2=1.76095463961 sigma_w=1.32700966071 q*=0.570047881641
# s2=0.8 b2=0.05: q*=0.138080277966 chi_1=0.646838513353 c*=1.0 chi_c=0.646838513353 xi_q=1.51437343101 xi_c=2.29537527841
# s2=2.5 b2=0.05: q*=1.06395837742 chi_1=1.1335156987 c*=0.446804232344 chi_c=0.918716774914 xi_q=1.17987291648 xi_c=11.7955975159
