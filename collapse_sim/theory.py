"""Closed-form expectations for the toy families, to check simulations against.

Generation 0 is fitted on ``n`` real samples; generation g >= 1 on data made
by the model of generation g-1 (mixed with real data where the policy says).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma


def gaussian_expected(
    generations: int,
    *,
    n: int,
    trace_sigma: float,
    ddof: int = 0,
    temperature: float = 1.0,
    n_real: int = 0,
) -> dict[str, np.ndarray]:
    """Exact ``E[variance]`` and ``E[mean_shift^2]`` of refitted Gaussians.

    Each generation fits mean and covariance (dividing by ``n - ddof``) to
    ``n_real`` fresh real samples plus ``n - n_real`` samples from the previous
    fit with covariance scaled by ``temperature``. ``n_real = 0`` is the replace
    loop (Shumailov et al. 2024); ``n_real > 0`` the fresh-data loop
    (Alemohammad et al. 2023). ``variance`` is the trace of the fitted
    covariance, ``trace_sigma`` that of the real one.
    """
    k, t = n_real, temperature
    v = np.empty(generations)
    u = np.empty(generations)
    v[0], u[0] = trace_sigma * (n - 1) / (n - ddof), trace_sigma / n
    for g in range(1, generations):
        spread = k * trace_sigma + (n - k) * t * v[g - 1]
        # Pooled scatter of two groups also holds their between-group spread.
        v[g] = (spread * (n - 1) / n + k * (n - k) / n * u[g - 1]) / (n - ddof)
        u[g] = ((n - k) / n) ** 2 * u[g - 1] + spread / n**2
    return {"variance": v, "mean_shift_sq": u}


def gaussian_fixed_point(
    *, n: int, n_real: int, trace_sigma: float, ddof: int = 0, temperature: float = 1.0
) -> dict[str, float]:
    """Limit of :func:`gaussian_expected` as generations grow (needs ``n_real > 0`` or T > 1)."""
    k, t, s = n_real, temperature, trace_sigma
    a = (n - k) * t * (n - 1) / n / (n - ddof)
    b = k * (n - k) / n / (n - ddof)
    c = k * s * (n - 1) / n / (n - ddof)
    system = np.array([[1 - a, -b], [-(n - k) * t / n**2, 1 - ((n - k) / n) ** 2]])
    v, u = np.linalg.solve(system, [c, k * s / n**2])
    return {"variance": float(v), "mean_shift_sq": float(u)}


def gaussian_log_variance(
    generations: int, *, n: int, sigma2: float, ddof: int = 0, temperature: float = 1.0
) -> np.ndarray:
    """``E[log variance]`` of a refitted 1-D Gaussian under replace.

    Each refit multiplies the variance by ``T * chi2_{n-1} / (n - ddof)``, so
    log-variance is a random walk with drift ``psi((n-1)/2) + log 2 - log(n-ddof)``
    (plus ``log T``), negative even for the unbiased fit: almost every chain collapses.
    """
    g = np.arange(generations)
    drift = digamma((n - 1) / 2) + np.log(2) - np.log(n - ddof)
    return np.log(sigma2) + (g + 1) * drift + g * np.log(temperature)


def gini_simpson_expected(generations: int, *, n: int, probs: np.ndarray) -> np.ndarray:
    """``E[1 - sum p_i^2]`` of the training data under faithful categorical refits.

    Refitting frequencies and resampling ``n`` labels is Wright-Fisher drift:
    the chance that two draws differ shrinks by ``1 - 1/n`` per generation.
    """
    h = 1.0 - float(np.sum(np.asarray(probs) ** 2))
    return h * (1 - 1 / n) ** (np.arange(generations) + 1)


def linreg_param_error(generations: int, *, n: int, dim: int, noise: float, mixing: str) -> np.ndarray:
    """``E[|w_hat - w*|^2]`` for OLS on a fixed Gaussian design relabelled by the previous fit.

    ``replace`` adds one round of label noise per generation (linear growth);
    ``accumulate`` averages over all rounds, so the error stays below pi^2/6
    times the first one (Gerstgrasser et al. 2024).
    """
    first = noise**2 * dim / (n - dim - 1)
    rounds = np.arange(1, generations + 1)
    if mixing == "replace":
        return first * rounds
    if mixing == "accumulate":
        return first * np.cumsum(1.0 / rounds**2)
    raise ValueError(f"mixing must be 'replace' or 'accumulate', got {mixing!r}")


def kde_variance_expected(
    generations: int, *, n: int, trace_sigma: float, dim: int, bandwidth: float | None = None, factor=None
) -> np.ndarray:
    """E[trace of a Gaussian KDE's covariance] per generation under replace, ``n`` samples a generation.

    The KDE of n points has covariance S + K: S the points' maximum-likelihood
    covariance, K the kernel's. n draws from a model of covariance C have
    E[tr S] = a tr C, a = (n - 1) / n. With a fixed bandwidth h (K = h^2 I):

        E T_{g+1} = a E T_g + d h^2,   T_0 = a tr(Sigma) + d h^2,
        E T_g = T* + a^g (T_0 - T*),   T* = n d h^2,

    so the estimate collapses toward n d h^2 when that is below T_0 and
    inflates toward it when above. With a rule's ``factor`` f (Scott, Silverman:
    K = f^2 times the points' covariance, ddof 1), tr K = f^2 n/(n-1) tr S, and

        E T_g = (a + f^2)^(g + 1) tr(Sigma):

    geometric growth whenever f^2 > 1/n, as both rules give.
    """
    a, g = (n - 1) / n, np.arange(generations)
    if factor is not None:
        return (a + factor**2) ** (g + 1) * trace_sigma
    kernel = dim * bandwidth**2
    fixed_point = n * kernel
    return fixed_point + a**g * (a * trace_sigma + kernel - fixed_point)


def chosen(config: dict, group: str, cls: type) -> bool:
    """Whether the group's ``_target_`` is ``cls`` or a subclass of it (a user's extension counts)."""
    from collapse_sim.settings import import_target

    target = import_target(f"{group}._target_", config[group]["_target_"])
    return isinstance(target, type) and issubclass(target, cls)


def settings(config: dict, group: str) -> dict:
    """A component's settings as it runs: the config's, and its constructor's defaults for the rest."""
    from collapse_sim.settings import accepted_settings, import_target

    params, _, _ = accepted_settings(import_target(f"{group}._target_", config[group]["_target_"]))
    defaults = {name: p.default for name, p in params.items() if p.default is not p.empty}
    return defaults | config[group]


def expected_curves(config: dict) -> dict[str, np.ndarray]:
    """The theory curves (expected means over replicates) that apply to a resolved config: what its
    trainer declares (``Trainer.expected_curves``)."""
    from collapse_sim.settings import import_target

    return import_target("trainer._target_", config["trainer"]["_target_"]).expected_curves(config)
