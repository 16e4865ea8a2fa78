#!/usr/bin/env python3
"""NumPy peer for bench/risk: the same workloads, timed the same way (median of single
calls with perf_counter_ns after a warm-up), printed as one JSON object on stdout.

What each task does, in the idiom a NumPy user would write:
- var-*: losses = -r; lo = floor((n-1)c); np.partition(losses, [lo, lo+1]) for the VaR
  (linear interpolation, as np.quantile), the tail mean over the partitioned top; and
  np.quantile + boolean-mask mean as a second, more common form.
- corr-*: np.corrcoef(x, rowvar=False).
- cholesky-100: np.linalg.cholesky (LAPACK).
- gbm: Z = standard_normal((paths, steps)) and S_T = S0 * exp(a*steps + b*Z.sum(1)), plus
  the loss quantile; Generator(PCG64) and Generator(Philox).
- mcvar-5x1M: Z @ L.T for 1M x 5 normals, portfolio returns, the loss quantile.
- normals-1M: standard_normal(1_000_000) with PCG64 and with NumPy's own Philox.
Usage: python3 bench/peers/risk_numpy.py [--quick]
"""
import json
import math
import sys
import time

try:
    import numpy as np
except ImportError:  # the bench prints a note and carries on without this peer
    print(json.dumps({"available": False, "reason": "NumPy is not installed for python3"}))
    sys.exit(0)

QUICK = "--quick" in sys.argv


def timed(fn, min_reps, budget_s):
    for _ in range(3):
        fn()
    samples = []
    start = time.perf_counter()
    while len(samples) < min_reps or time.perf_counter() - start < budget_s:
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
        if len(samples) >= 100_000 or (len(samples) >= min_reps and time.perf_counter() - start > 4 * budget_s):
            break
    samples.sort()
    return {
        "medianNs": samples[len(samples) // 2],
        "p99Ns": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        "samples": len(samples),
    }


def var_partition(r, c):
    losses = -r
    n = losses.size
    h = (n - 1) * c
    lo = math.floor(h)
    g = h - lo
    part = np.partition(losses, [lo, lo + 1] if lo + 1 < n else [lo])
    a = part[lo]
    b = part[lo + 1] if lo + 1 < n else a
    var = b - (b - a) * (1 - g) if g >= 0.5 else a + (b - a) * g
    start = math.ceil(h)
    return var, part[start:].mean()


def var_quantile(r, c):
    losses = -r
    var = np.quantile(losses, c)
    return var, losses[losses >= var].mean()


def main():
    budget = 0.2 if QUICK else 1.0
    rng = np.random.default_rng(42)
    out = {"available": True, "numpy": np.__version__, "python": sys.version.split()[0], "tasks": {}}
    t = out["tasks"]
    for n, name in ((10_000, "var-10k"), (1_000_000, "var-1M")):
        r = rng.standard_normal(n) * 0.01
        t[f"{name} numpy partition"] = timed(lambda: var_partition(r, 0.95), 5, budget)
        t[f"{name} numpy quantile+mask"] = timed(lambda: var_quantile(r, 0.95), 5, budget)
    for T, N in ((1000, 100), (2520, 500)):
        x = rng.standard_normal((T, N)) * 0.01
        t[f"corr-{N}x{T} numpy corrcoef"] = timed(lambda: np.corrcoef(x, rowvar=False), 3, budget)
    b = rng.standard_normal((100, 100))
    a = b @ b.T + 100 * np.eye(100)
    t["cholesky-100 numpy linalg"] = timed(lambda: np.linalg.cholesky(a), 5, budget)

    spot, mu, sigma, dt, steps, paths = 100.0, 0.05, 0.2, 1 / 252, 252, 100_000
    drift = (mu - 0.5 * sigma * sigma) * dt
    vol = sigma * math.sqrt(dt)

    def gbm(gen):
        z = gen.standard_normal((paths, steps))
        terminal = spot * np.exp(drift * steps + vol * z.sum(axis=1))
        return np.quantile(spot - terminal, 0.95)

    pcg = np.random.Generator(np.random.PCG64(1))
    philox = np.random.Generator(np.random.Philox(1))
    t["gbm-100kx252 numpy pcg64"] = timed(lambda: gbm(pcg), 3, budget)
    t["gbm-100kx252 numpy philox"] = timed(lambda: gbm(philox), 3, budget)

    cov = np.full((5, 5), 0.3e-4) + np.eye(5) * 0.7e-4
    low = np.linalg.cholesky(cov)
    w = np.full(5, 0.2)
    means = np.zeros(5)

    def mcvar(gen):
        z = gen.standard_normal((1_000_000, 5))
        x = means + z @ low.T
        losses = -(x @ w)
        var = np.quantile(losses, 0.95)
        return var, losses[losses >= var].mean()

    t["mcvar-5x1M numpy pcg64"] = timed(lambda: mcvar(pcg), 3, budget)
    t["normals-1M numpy pcg64"] = timed(lambda: pcg.standard_normal(1_000_000), 5, budget)
    t["normals-1M numpy philox"] = timed(lambda: philox.standard_normal(1_000_000), 5, budget)
    print(json.dumps(out))


main()
