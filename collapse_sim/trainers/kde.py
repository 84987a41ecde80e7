"""Fit a Gaussian-kernel density estimate to every replicate: the toy generative model Kazdan et al. refit.

A KDE of ``n`` points is a mixture of ``n`` equal Gaussians, one at each point,
so it is a ``GaussianMixtureModel``: the Gaussian family's metrics and
``refit_sample`` apply unchanged. The kernel covariance is ``bandwidth^2 I``
for a fixed bandwidth, or, for ``scott`` and ``silverman``, the data's
covariance (ddof 1) times the rule's factor squared, as
``scipy.stats.gaussian_kde`` sets it. With sample weights, each kernel
weighs its point's weight, and a rule uses the weighted covariance and the
effective number of points 1 / Σ ω², as ``gaussian_kde(weights=...)`` does.
"""

from __future__ import annotations

import numpy as np

from collapse_sim.components import Trainer, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.models.gaussian import GaussianMixtureModel
from collapse_sim.samples import Samples
from collapse_sim.trainers.gaussian import weighted_moments

RULES = ("scott", "silverman")


def rule_factor(rule: str, n: int, dim: int) -> float:
    """The bandwidth factor of Scott's or Silverman's rule for ``n`` points in ``dim`` dimensions."""
    if rule == "scott":
        return n ** (-1.0 / (dim + 4))
    return (n * (dim + 2) / 4.0) ** (-1.0 / (dim + 4))


class KDEFitTrainer(Trainer):
    """Gaussian KDE with a fixed ``bandwidth`` h (data units) or a rule, ``scott`` or ``silverman``."""

    needs = data_of("gaussian")
    provides = frozenset({"model sampling", "sample weights"})  # refit_sample; mixing=weighted
    sampling_options = GaussianMixtureModel.sampling_options

    @classmethod
    def expected_curves(cls, config: dict) -> dict[str, np.ndarray]:
        """E[trace of the covariance] under replace, sampled faithfully (``theory.kde_variance_expected``)."""
        from collapse_sim import theory
        from collapse_sim.sources._base import ModelSource
        from collapse_sim.trainers.faithful import faithful_replace_refit

        parts = theory.Components(config)  # built once, read by the check and the closed form
        if not faithful_replace_refit(parts, ModelSource):
            return {}
        truth, n, bandwidth = parts.source.truth, parts.n_samples, parts.trainer.bandwidth
        dim = truth.means.shape[-1]
        factor = rule_factor(bandwidth, n, dim) if isinstance(bandwidth, str) else None
        variance = theory.kde_variance_expected(
            parts.generations,
            n=n,
            trace_sigma=float(np.trace(truth.cov[0])),
            dim=dim,
            bandwidth=None if factor else bandwidth,
            factor=factor,
        )
        return {"variance": variance}

    def __init__(self, *, bandwidth: float | str = "scott") -> None:
        rule = isinstance(bandwidth, str) and bandwidth in RULES
        number = isinstance(bandwidth, int | float) and not isinstance(bandwidth, bool) and bandwidth > 0
        if not (rule or number):
            raise ConfigError(
                "bandwidth",
                f"must be a number > 0 (data units) or one of {', '.join(RULES)}, got {bandwidth!r}",
            )
        self.bandwidth = bandwidth if isinstance(bandwidth, str) else float(bandwidth)

    def fit(self, data: Samples, *, init=None, rng=None, generation: int = 0) -> GaussianMixtureModel:
        """The KDE of each replicate's points; deterministic (``init`` and ``rng`` are unused)."""
        x = data["x"]  # (R, n, d)
        r, n, d = x.shape
        omega = data.fit_weights()
        if isinstance(self.bandwidth, str):
            if n < 2:
                raise ConfigError("bandwidth", f"{self.bandwidth} needs at least 2 samples, got {n}")
            if omega is None:
                centered = x - x.mean(axis=1, keepdims=True)
                kernel = (
                    centered.transpose(0, 2, 1) @ centered / (n - 1) * rule_factor(self.bandwidth, n, d) ** 2
                )
            else:  # one factor per replicate: each has its own effective number of points
                _, cov = weighted_moments(x, omega, ddof=1)
                n_eff = 1.0 / (omega**2).sum(axis=1)
                factors = np.array([rule_factor(self.bandwidth, m, d) for m in n_eff])
                kernel = cov * factors[:, None, None] ** 2
        else:
            kernel = np.tile(np.eye(d) * self.bandwidth**2, (r, 1, 1))
        covs = np.broadcast_to(kernel[:, None], (r, n, d, d))
        mixture_weights = np.full((r, n), 1.0 / n) if omega is None else omega
        return GaussianMixtureModel(mixture_weights, x.copy(), covs)
