#!/usr/bin/env python3
"""SciPy's quad on E[tanh(z)^2], z ~ N(0, 1): the side-by-side figure for
the exact engine's benchmark (`cargo bench --bench exact`).

Two integrands, as a Python user would write them: a plain-Python
tanh(x)^2 * phi(x) split at 0, and the same with scipy.stats.norm.pdf.
Each is asked for 1e-10 relative accuracy and checked against the same
40-digit mpmath reference the Rust benchmark uses. Prints the median time
per call. Needs NumPy and SciPy (`pip install numpy scipy`); without them
it says so and exits 0, so that a benchmark run on a machine without
Python's numerical stack is not an error.
"""

import math
import statistics
import sys
import time

try:
    from scipy import integrate, stats
except ImportError:
    print("bench/exact_vs_scipy.py: SciPy is not installed (pip install numpy scipy); skipped")
    sys.exit(0)

# mpmath 1.3, 40 digits (see benches/exact.rs).
REFERENCE = 0.3942944903978411744
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def plain(x):
    t = math.tanh(x)
    return t * t * INV_SQRT_2PI * math.exp(-0.5 * x * x)


def with_stats(x):
    return math.tanh(x) ** 2 * stats.norm.pdf(x)


def split_at_zero(f):
    a, _ = integrate.quad(f, -math.inf, 0.0, epsabs=0.0, epsrel=1e-10)
    b, _ = integrate.quad(f, 0.0, math.inf, epsabs=0.0, epsrel=1e-10)
    return a + b


def median_seconds(f, calls, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(calls):
            split_at_zero(f)
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def main():
    print("E[tanh(z)^2], z ~ N(0,1), scipy.integrate.quad split at 0, epsrel 1e-10")
    for name, f, calls, runs in [
        ("plain-Python integrand", plain, 50, 21),
        ("scipy.stats.norm.pdf", with_stats, 2, 5),
    ]:
        value = split_at_zero(f)
        rel = abs(value - REFERENCE) / REFERENCE
        t = median_seconds(f, calls, runs)
        print(f"  {name:24}: {t * 1e6:10.1f} us per call, relative error {rel:.1e}")


if __name__ == "__main__":
    main()
