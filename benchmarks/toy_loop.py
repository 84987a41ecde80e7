"""Vectorised Gaussian family vs a plain per-replicate Python loop doing the same work.

The vectorised side is the real framework: Gaussian source, ``gaussian_fit``,
``refit_sample``, ``replace`` and the Gaussian metrics driven by
``collapse_sim.loop.simulate`` into an in-memory store (xarray datasets per
generation included). Each baseline loops over replicates and generations in
Python and does the same numerical work per replicate: draw ``n`` samples
from the fitted Gaussian, refit mean and variance (MLE), and compute
variance, mean shift, W2 and the tail masses beyond 2, 3, 4 sigma, storing
them in arrays:

* ``plain``: numpy for sampling and fitting, ``scipy.stats.norm`` for tails,
  as such a loop is usually written;
* ``scalar_math``: the same with ``math.erfc``, the fastest scalar form.

Both baselines cost the same for every replicate, so they are timed on
``--baseline-replicates`` replicates and scaled to ``--replicates``. The
vectorised and plain runs are also compared statistically (mean log variance
of the last generation) so the speedup is for the same process.

    python benchmarks/toy_loop.py            # 1000 replicates x 1000 generations x 100 samples

Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from collections import deque
from pathlib import Path

import numpy as np
from scipy import stats

from collapse_sim.api import job
from collapse_sim.checkpoints import NoCheckpoints
from collapse_sim.components import RunContext
from collapse_sim.loop import simulate

TAILS = (2.0, 3.0, 4.0)
# The five groups named outright: the top-level defaults are the detection run.
GAUSSIAN_FAMILY = (
    "source=gaussian",
    "generator=refit_sample",
    "mixing=replace",
    "trainer=gaussian_fit",
    "metrics=gaussian",
)


def vectorised(replicates: int, generations: int, n: int, seed: int) -> tuple[float, np.ndarray]:
    """Wall time of the framework loop, and the last generation's variances."""
    sim = job(
        [
            *GAUSSIAN_FAMILY,
            f"replicates={replicates}",
            f"generations={generations}",
            f"n_samples={n}",
            f"seed={seed}",
        ]
    ).sim
    began = time.perf_counter()
    last = deque(simulate(sim, RunContext(Path("."), 0), NoCheckpoints()), maxlen=1)[0]  # keep one
    elapsed = time.perf_counter() - began
    return elapsed, last.results["variance"].values


def _tail_scipy(m: float, s: float, k: float) -> float:
    return float(stats.norm.cdf((-k - m) / s) + stats.norm.sf((k - m) / s))


def _tail_math(m: float, s: float, k: float) -> float:
    root2 = math.sqrt(2.0)
    return 0.5 * math.erfc((k + m) / (s * root2)) + 0.5 * math.erfc((k - m) / (s * root2))


def per_replicate(replicates: int, generations: int, n: int, seed: int, tail) -> tuple[float, np.ndarray]:
    """Wall time of the Python loop over replicates, and its last generation's variances."""
    out = np.empty((generations, replicates, 3 + len(TAILS)))
    began = time.perf_counter()
    for r in range(replicates):
        rng = np.random.default_rng([seed, r])
        x = rng.normal(0.0, 1.0, n)  # generation 0 trains on real data
        for g in range(generations):
            mean, var = x.mean(), x.var()
            sd = math.sqrt(var)
            row = out[g, r]
            row[0], row[1], row[2] = var, abs(mean), math.sqrt(mean**2 + (sd - 1.0) ** 2)
            for j, k in enumerate(TAILS):
                row[3 + j] = tail(mean, sd, k)
            x = rng.normal(mean, sd, n)
    return time.perf_counter() - began, out[-1, :, 0]


def main() -> None:
    """Run both sides and print the comparison as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--baseline-replicates", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    r, g, n = args.replicates, args.generations, args.samples
    b = min(args.baseline_replicates, r)

    vectorised(min(r, 50), 5, n, args.seed)  # burn-in: imports, allocator, caches
    vec_s, vec_var = vectorised(r, g, n, args.seed)
    plain_s, plain_var = per_replicate(b, g, n, args.seed, _tail_scipy)
    math_s, _ = per_replicate(b, g, n, args.seed, _tail_math)
    plain_full, math_full = plain_s * r / b, math_s * r / b

    # Same process? Compare mean log variance after g generations (log keeps the tails tame).
    a, c = np.log(vec_var), np.log(plain_var)
    z = (a.mean() - c.mean()) / math.sqrt(a.var(ddof=1) / a.size + c.var(ddof=1) / c.size)
    print(f"vectorised: {vec_s:.2f} s for {r} replicates x {g} generations x {n} samples")
    print(f"plain loop: {plain_s:.2f} s for {b} replicates -> {plain_full:.1f} s for {r}")
    print(f"scalar-math loop: {math_s:.2f} s for {b} replicates -> {math_full:.1f} s for {r}")
    result = {
        "benchmark": "toy_loop",
        "replicates": r,
        "generations": g,
        "samples": n,
        "vectorised_s": round(vec_s, 3),
        "plain_loop_s": round(plain_full, 2),
        "scalar_math_loop_s": round(math_full, 2),
        "baseline_replicates_timed": b,
        "speedup": round(plain_full / vec_s, 1),
        "speedup_vs_scalar_math": round(math_full / vec_s, 1),
        "same_process_z": round(float(z), 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
