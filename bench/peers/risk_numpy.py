#!/usr/bin/env python3
"""NumPy peer for bench/risk: the same workloads, in the idiom a NumPy user would write,
served to the bench so that NumPy takes its turn in each round of the round-robin beside
our native and TS paths (bench/lib/suite.ts), timed the same way (single calls).

Protocol (one JSON object per line each way):
- on start it prints {"available": true, "numpy": ..., "python": ..., "tasks": [names]}
  (or {"available": false, "reason": ...} without NumPy, and exits);
- for each request line {"task": name, "budgetMs": b, "min": m, "gapUs": g} it times single
  calls of the task with perf_counter_ns for about b ms (at least m calls; three untimed
  calls first on a task's first request), each call after an untimed pause of g µs
  (time.sleep; absent or 0: back to back, as the bench's own spaced tasks, bench/lib/suite.ts),
  and prints {"samples": [ns, ...]};
- it exits when stdin closes.

What each task does:
- var-*: losses = -r; lo = floor((n-1)c); np.partition(losses, [lo, lo+1]) for the VaR
  (linear interpolation, as np.quantile), the tail mean over the partitioned top.
- corr-*: np.corrcoef(x, rowvar=False).
- cholesky-100, cholesky-500: np.linalg.cholesky (LAPACK) of B B^T + n I, B standard normal.
- gbm: Z = standard_normal((paths, steps)) and S_T = S0 * exp(a*steps + b*Z.sum(1)), plus
  the loss quantile; Generator(PCG64).
- mcvar-5x1M: Z @ L.T for 1M x 5 normals, portfolio returns, the loss quantile.
- normals-1M: standard_normal(1_000_000) with PCG64.
Usage: python3 bench/peers/risk_numpy.py (driven by bench/risk/index.ts)
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



def timed(fn, budget_ms, min_reps, gap_us=0):
    samples = []
    gap = gap_us / 1e6
    end = time.perf_counter() + budget_ms / 1000
    while len(samples) < min_reps or time.perf_counter() < end:
        if gap > 0:
            time.sleep(gap)
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
        if len(samples) >= 200_000:
            break
    return samples


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


def tasks():
    """name -> a zero-argument call; inputs are made once, here."""
    rng = np.random.default_rng(42)
    t = {}
    for n, name in ((10_000, "var-10k"), (1_000_000, "var-1M")):
        r = rng.standard_normal(n) * 0.01
        t[f"{name} numpy partition"] = (lambda r: lambda: var_partition(r, 0.95))(r)
    for T, N in ((1000, 100), (2520, 500)):
        x = rng.standard_normal((T, N)) * 0.01
        t[f"corr-{N}x{T} numpy corrcoef"] = (lambda x: lambda: np.corrcoef(x, rowvar=False))(x)
    for n in (100, 500):
        b = rng.standard_normal((n, n))
        a = b @ b.T + n * np.eye(n)
        t[f"cholesky-{n} numpy linalg"] = (lambda a: lambda: np.linalg.cholesky(a))(a)

    spot, mu, sigma, dt, steps, paths = 100.0, 0.05, 0.2, 1 / 252, 252, 100_000
    drift = (mu - 0.5 * sigma * sigma) * dt
    vol = sigma * math.sqrt(dt)
    pcg = np.random.Generator(np.random.PCG64(1))

    def gbm():
        z = pcg.standard_normal((paths, steps))
        terminal = spot * np.exp(drift * steps + vol * z.sum(axis=1))
        return np.quantile(spot - terminal, 0.95)

    t["gbm-100kx252 numpy pcg64"] = gbm

    cov = np.full((5, 5), 0.3e-4) + np.eye(5) * 0.7e-4
    low = np.linalg.cholesky(cov)
    w = np.full(5, 0.2)
    means = np.zeros(5)

    def mcvar():
        z = pcg.standard_normal((1_000_000, 5))
        x = means + z @ low.T
        losses = -(x @ w)
        var = np.quantile(losses, 0.95)
        return var, losses[losses >= var].mean()

    t["mcvar-5x1M numpy pcg64"] = mcvar
    t["normals-1M numpy pcg64"] = lambda: pcg.standard_normal(1_000_000)
    return t


def main():
    t = tasks()
    print(json.dumps({"available": True, "numpy": np.__version__, "python": sys.version.split()[0], "tasks": list(t)}), flush=True)
    warm = set()
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        fn = t[req["task"]]
        if req["task"] not in warm:
            for _ in range(3):
                fn()
            warm.add(req["task"])
        print(json.dumps({"samples": timed(fn, req["budgetMs"], req["min"], req.get("gapUs", 0))}), flush=True)


main()
