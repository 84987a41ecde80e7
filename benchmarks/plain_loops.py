"""The scripts a researcher writes instead of collapse_sim: each setting's maths as a plain NumPy loop.

``benchmarks/startup.py`` runs each in a fresh interpreter beside the
collapse_sim command of the same setting and reports the ratio. Each script
takes its sizes from the command line, keeps every generation's headline
measure in memory and saves them to ``out.npz`` in the working folder at the
end, as such a script would.

    python benchmarks/plain_loops.py gaussian 100 100 100   # chains, generations, samples
"""

from __future__ import annotations

import sys

import numpy as np


def gaussian(chains: int, generations: int, n: int) -> dict:
    """1-D Gaussian refitted by maximum likelihood (unbiased variance) to its own samples, replace."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, (chains, n))
    variance = []
    for _ in range(generations):
        mean, std = x.mean(1), x.std(1, ddof=1)
        variance.append(std**2)
        x = rng.normal(mean[:, None], std[:, None], (chains, n))
    return {"variance": np.array(variance)}


def kde(chains: int, generations: int, n: int, *, dim: int = 2, h: float = 0.05, test: int = 500) -> dict:
    """A Gaussian KDE of fixed bandwidth refitted to its own samples, and its held-out log-likelihood."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, (chains, n, dim))
    held_out = rng.normal(0.0, 1.0, (chains, test, dim))
    nll, trace = [], []
    for _ in range(generations):
        squared = ((held_out[:, :, None, :] - x[:, None, :, :]) ** 2).sum(-1) / h**2
        log_kernel = -0.5 * squared - dim * np.log(h) - 0.5 * dim * np.log(2 * np.pi)
        top = log_kernel.max(-1, keepdims=True)
        log_density = (top[..., 0] + np.log(np.exp(log_kernel - top).sum(-1))) - np.log(n)
        nll.append(-log_density.mean(1))
        trace.append(x.var(1, ddof=1).sum(-1))
        centres = x[np.arange(chains)[:, None], rng.integers(0, n, (chains, n))]
        x = centres + h * rng.normal(size=(chains, n, dim))
    return {"test_nll": np.array(nll), "trace": np.array(trace)}


def regression(chains: int, generations: int, n: int, *, dim: int = 10, noise: float = 1.0) -> dict:
    """Ordinary least squares refitted to labels its previous fit drew (Gerstgrasser et al.), replace."""
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(chains, dim))
    weights, error = truth, []
    for _ in range(generations):
        features = rng.normal(size=(chains, n, dim))
        labels = np.einsum("rnd,rd->rn", features, weights) + noise * rng.normal(size=(chains, n))
        moments = np.einsum("rnd,rn->rd", features, labels)[..., None]
        weights = np.linalg.solve(features.transpose(0, 2, 1) @ features, moments)[..., 0]
        error.append(((weights - truth) ** 2).sum(1))
    return {"param_error": np.array(error)}


def weighted(chains: int, generations: int, n: int, *, real_fraction: float = 0.5, weight: float = 0.618):
    """He et al.'s weighting: fresh real and synthetic samples, the real ones weighted ``weight``."""
    rng = np.random.default_rng(0)
    n_real = int(round(real_fraction * n))
    mean, std = np.zeros(chains), np.ones(chains)
    variance = []
    for _ in range(generations):
        real = rng.normal(0.0, 1.0, (chains, n_real))
        synthetic = rng.normal(mean[:, None], std[:, None], (chains, n - n_real))
        w = np.concatenate(
            [np.full(n_real, weight / n_real), np.full(n - n_real, (1 - weight) / (n - n_real))]
        )
        both = np.concatenate([real, synthetic], 1)
        mean = both @ w
        std = np.sqrt(((both - mean[:, None]) ** 2) @ w)
        variance.append(std**2)
    return {"variance": np.array(variance)}


def zipf(chains: int, generations: int, n: int, *, classes: int = 50, exponent: float = 1.1) -> dict:
    """A categorical law refitted to its own counts (Suresh et al.): which classes survive."""
    rng = np.random.default_rng(0)
    law = 1.0 / np.arange(1, classes + 1) ** exponent
    shares = np.tile(law / law.sum(), (chains, 1))
    surviving = []
    for _ in range(generations):
        counts = rng.multinomial(n, shares)
        shares = counts / n
        surviving.append((counts > 0).sum(1))
    return {"surviving_classes": np.array(surviving)}


LOOPS = {"gaussian": gaussian, "kde": kde, "regression": regression, "weighted": weighted, "zipf": zipf}


if __name__ == "__main__":
    loop, *sizes = sys.argv[1:]
    np.savez("out.npz", **LOOPS[loop](*map(int, sizes)))
