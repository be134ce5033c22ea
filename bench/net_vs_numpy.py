#!/usr/bin/env python3
"""The networks he-30 and glorot-30 of derivations/networks.toml, drawn by
`initaudit net` and by a vectorised NumPy implementation, side by side in
one run.

Same networks, same laws, same statistics: 30 ReLU layers of width 256,
4 Gaussian inputs per draw, 320 independent draws (weights, inputs and a
cost vector g ~ N(0, I) each); forward y_l = W_l x_{l-1}, x_l = relu(y_l);
backward dy_l = dx_l * relu'(y_l), dx_{l-1} = W_l^T dy_l; per draw the
means of every signal and its square and of dC/dW's entries and squares,
as src/net/simulate.rs records them. The random numbers are NumPy's own
(PCG64 and its ziggurat normal), so the draws are equally distributed but
not the same numbers. Each layer is one matrix-matrix product over the
draw's inputs (W @ X, W.T @ dY), as a NumPy user would write it.

Rounds alternate the two programs and the median of each is reported, so
load from other processes shifts both alike; beside wall time each
program's CPU time (user + sys: initaudit's from the kernel's accounting
of the child, NumPy's of this process and its BLAS threads) is reported,
which a loaded machine blurs less. NumPy's BLAS and initaudit
both use the threads they find (initaudit one per core); `--threads 1`
runs both on one (OMP/OPENBLAS/MKL_NUM_THREADS=1 must then be set before
Python starts, which this script does by re-executing itself).

Needs NumPy (`pip install numpy`); without it the script says so and
exits 0. Run from the repository root after `cargo build --release`.
"""

import os
import resource
import statistics
import subprocess
import sys
import time

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

if "--threads" in sys.argv:
    n = sys.argv[sys.argv.index("--threads") + 1]
    if any(os.environ.get(v) != n for v in THREAD_VARS):
        env = dict(os.environ, **{v: n for v in THREAD_VARS})
        os.execve(sys.executable, [sys.executable] + sys.argv, env)

try:
    import numpy as np
except ImportError:
    print("bench/net_vs_numpy.py: NumPy is not installed (pip install numpy); skipped")
    sys.exit(0)

DEPTH, WIDTH, INPUTS, DRAWS = 30, 256, 4, 320
BINARY = os.path.join("target", "release", "initaudit")
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def he(rng, n_out, n_in):
    return rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)


def glorot(rng, n_out, n_in):
    a = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-a, a, (n_out, n_in))


def one_draw(rng, weight):
    """Per-draw means of x, x^2, y, y^2, dx, dx^2, dy, dy^2, dW, dW^2."""
    x = rng.standard_normal((WIDTH, INPUTS))
    xs, ys, ws = [x], [], []
    for _ in range(DEPTH):
        w = weight(rng, WIDTH, WIDTH)
        y = w @ xs[-1]
        ws.append(w)
        ys.append(y)
        xs.append(np.maximum(y, 0.0))
    out = [(x.mean(), (x * x).mean()) for x in xs]
    out += [(y.mean(), (y * y).mean()) for y in ys]
    dx = rng.standard_normal((WIDTH, INPUTS))
    out.append((dx.mean(), (dx * dx).mean()))
    for l in range(DEPTH, 0, -1):
        dy = dx * (ys[l - 1] > 0.0)
        out.append((dy.mean(), (dy * dy).mean()))
        xp = xs[l - 1]
        # dC/dW for one input is dy x^T: its mean entry is mean(dy) mean(x).
        out.append(
            (
                (dy.mean(axis=0) * xp.mean(axis=0)).mean(),
                ((dy * dy).mean(axis=0) * (xp * xp).mean(axis=0)).mean(),
            )
        )
        dx = ws[l - 1].T @ dy
        out.append((dx.mean(), (dx * dx).mean()))
    return out


def numpy_run(seed):
    rng = np.random.default_rng(seed)
    stats = {}
    for name, weight in [("he-30", he), ("glorot-30", glorot)]:
        per_draw = [one_draw(rng, weight) for _ in range(DRAWS)]
        # Var[y(L)] / Var[y(1)], the statistic both programs print.
        y1 = np.array([d[DEPTH + 1] for d in per_draw])
        yl = np.array([d[2 * DEPTH] for d in per_draw])
        stats[name] = (yl[:, 1] - yl[:, 0] ** 2).mean() / (y1[:, 1] - y1[:, 0] ** 2).mean()
    return stats


def rust_run(threads):
    cmd = [BINARY, "net", "he-30", "glorot-30", "--format", "json"]
    if threads:
        cmd += ["--threads", threads]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    if not os.path.exists(BINARY):
        print(f"{BINARY} is missing: run `cargo build --release` first")
        sys.exit(2)
    threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else None
    rust, numpy, rust_cpu, numpy_cpu = [], [], [], []

    def children():
        u = resource.getrusage(resource.RUSAGE_CHILDREN)
        return u.ru_utime + u.ru_stime

    for r in range(ROUNDS):
        start, cpu = time.perf_counter(), children()
        rust_run(threads)
        rust.append(time.perf_counter() - start)
        rust_cpu.append(children() - cpu)
        start, cpu = time.perf_counter(), time.process_time()
        ratio = numpy_run(r)
        numpy.append(time.perf_counter() - start)
        numpy_cpu.append(time.process_time() - cpu)
    rm, nm = statistics.median(rust), statistics.median(numpy)
    rc, nc = statistics.median(rust_cpu), statistics.median(numpy_cpu)
    load = os.getloadavg()[0]
    print(
        f"he-30 + glorot-30, {DRAWS} draws each of {INPUTS} inputs, forward and backward; "
        f"median of {ROUNDS} alternating rounds, threads {threads or 'all'}, load {load:.1f}"
    )
    print(f"  initaudit net : {rm:7.2f} s wall {rc:7.2f} s CPU")
    print(f"  NumPy {np.__version__:7}: {nm:7.2f} s wall {nc:7.2f} s CPU")
    print(f"  NumPy / initaudit: {nm / rm:5.2f} wall, {nc / rc:5.2f} CPU")
    print(
        "  NumPy's Var[y(L)]/Var[y(1)]: "
        + ", ".join(f"{k} {v:.3g}" for k, v in ratio.items())
        + " (initaudit prints the same statistic per layer)"
    )


if __name__ == "__main__":
    main()
