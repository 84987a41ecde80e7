"""Fit Gaussians (closed form) and Gaussian mixtures (EM) to every replicate."""

from __future__ import annotations

import numpy as np

from collapse_sim.components import Trainer, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.models.gaussian import GaussianMixtureModel
from collapse_sim.samples import Samples


class GaussianFitTrainer(Trainer):
    """Sample mean and covariance; ``ddof=0`` is the MLE, ``ddof=1`` the unbiased estimate.

    With sample weights ω (normalised) it is the weighted MLE: mean Σ ω x and
    covariance Σ ω (x - mean)(x - mean)ᵀ, divided for ``ddof=1`` by 1 - Σ ω²
    (reliability weights), which is n / (n - 1) when the weights are equal.
    """

    needs = data_of("gaussian")
    provides = frozenset({"model sampling", "sample weights"})  # refit_sample; mixing=weighted
    sampling_options = GaussianMixtureModel.sampling_options

    @classmethod
    def expected_curves(cls, config: dict) -> dict[str, np.ndarray]:
        """Exact E[variance] and E[mean_shift²] of refits sampled faithfully or with a temperature, under
        replace, fresh or weighted data (``theory.gaussian_expected``) or iterative retraining
        (``theory.retraining_expected``), and the typical 1-D chain under replace."""
        from collapse_sim import theory
        from collapse_sim.generators.refit_sample import RefitSampleGenerator
        from collapse_sim.mixing import FreshMixing, ReplaceMixing, RetrainMixing, WeightedMixing
        from collapse_sim.sources.gaussian import GaussianSource

        replace, fresh, retrain = (
            theory.chosen(config, "mixing", ReplaceMixing),
            theory.chosen(config, "mixing", FreshMixing),
            theory.chosen(config, "mixing", RetrainMixing),
        )
        applies = theory.chosen(config, "source", GaussianSource) and (replace or fresh or retrain)
        if not (applies and theory.chosen(config, "generator", RefitSampleGenerator)):
            return {}
        parts = theory.Components(config)
        options = parts.generator.options
        if options["top_p"] is not None:
            return {}
        g, n, truth = parts.generations, parts.n_samples, parts.source.truth
        if retrain:  # generation 0 fits the whole pool, every later one the pool and the model's samples
            faithful = options["temperature"] == 1.0 and options["top_k"] is None
            if not faithful or parts.source.pool_size != n:
                return {}
            curves = theory.retraining_expected(
                g,
                pool=n,
                synthetic=parts.mixing.synthetic_count(n),
                trace_sigma=float(np.trace(truth.covs[0, 0])),
                ddof=parts.trainer.ddof,
            )
            return {"variance": curves["variance"], "mean_shift_sq": curves["mean_shift_sq"]}
        n_real = round(parts.mixing.real_fraction * n) if fresh else 0
        ddof, temperature = parts.trainer.ddof, options["temperature"]
        weighted = theory.chosen(config, "mixing", WeightedMixing)
        curves = theory.gaussian_expected(
            g,
            n=n,
            trace_sigma=float(np.trace(truth.covs[0, 0])),
            ddof=ddof,
            temperature=temperature,
            n_real=n_real,
            real_weight=parts.mixing.real_weight if weighted else None,
        )
        out = {"variance": curves["variance"], "mean_shift_sq": curves["mean_shift_sq"]}
        if n_real == 0 and truth.means.shape[-1] == 1:
            sigma2 = float(truth.covs[0, 0, 0, 0])
            log_var = theory.gaussian_log_variance(g, n=n, sigma2=sigma2, ddof=ddof, temperature=temperature)
            out["variance_geometric_mean"] = np.exp(log_var)
        return out

    def __init__(self, *, ddof: int = 0) -> None:
        if ddof not in (0, 1):
            raise ConfigError("ddof", f"must be 0 (maximum likelihood) or 1 (unbiased), got {ddof!r}")
        self.ddof = ddof

    def fit(self, data: Samples, *, init=None, rng=None, generation: int = 0) -> GaussianMixtureModel:
        """Closed-form fit; ``init`` and ``rng`` are unused (the fit is deterministic)."""
        x = data["x"]
        n = x.shape[1]
        if n <= self.ddof:
            raise ConfigError("ddof", f"needs more than {self.ddof} samples per generation, got {n}")
        weights = data.fit_weights()
        if weights is not None:
            return GaussianMixtureModel.single(*weighted_moments(x, weights, self.ddof))
        mean = x.mean(axis=1)
        centered = x - mean[:, None, :]
        if x.shape[2] == 1:
            cov = (centered**2).sum(axis=1)[:, :, None] / (n - self.ddof)
        else:
            cov = centered.transpose(0, 2, 1) @ centered / (n - self.ddof)
        return GaussianMixtureModel.single(mean, cov)


def weighted_moments(x: np.ndarray, weights: np.ndarray, ddof: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean ``(R, d)`` and covariance ``(R, d, d)`` of ``x (R, n, d)`` for weights summing to 1
    per replicate; ``ddof=1`` divides the covariance by 1 - Σ ω² (reliability weights)."""
    mean = np.einsum("rn,rnd->rd", weights, x)
    centered = x - mean[:, None, :]
    cov = (centered * weights[..., None]).transpose(0, 2, 1) @ centered
    if ddof:
        cov /= (1.0 - (weights**2).sum(axis=1))[:, None, None]
    return mean, cov


class GMMFitTrainer(Trainer):
    """scikit-learn's EM per replicate; warm start initialises from the previous model."""

    needs = data_of("gaussian")
    provides = frozenset({"model sampling"})  # its models draw new samples (refit_sample)
    sampling_options = GaussianMixtureModel.sampling_options

    def __init__(
        self,
        *,
        n_components: int = 3,
        max_iter: int = 100,
        n_init: int = 1,
        reg_covar: float = 1e-6,
    ) -> None:
        if n_components < 1:
            raise ConfigError("n_components", f"must be >= 1, got {n_components!r}")
        self.n_components = n_components
        self.max_iter = max_iter
        self.n_init = n_init
        self.reg_covar = reg_covar

    def fit(
        self,
        data: Samples,
        *,
        init: GaussianMixtureModel | None = None,
        rng: np.random.Generator,
        generation: int = 0,
    ) -> GaussianMixtureModel:
        """EM fit of every replicate, seeded from ``rng``."""
        from sklearn.mixture import GaussianMixture  # imported when used: it costs half a second

        x = data["x"]
        seeds = rng.integers(0, 2**31 - 1, size=x.shape[0])
        weights, means, covs = [], [], []
        for r, seed in enumerate(seeds):
            start = {}
            if init is not None:
                start = dict(
                    weights_init=init.weights[r],
                    means_init=init.means[r],
                    precisions_init=np.linalg.inv(init.covs[r] + self.reg_covar * np.eye(x.shape[2])),
                )
            gmm = GaussianMixture(
                self.n_components,
                covariance_type="full",
                max_iter=self.max_iter,
                n_init=self.n_init,
                reg_covar=self.reg_covar,
                random_state=int(seed),
                **start,
            ).fit(x[r])
            weights.append(gmm.weights_)
            means.append(gmm.means_)
            covs.append(gmm.covariances_)
        return GaussianMixtureModel(np.array(weights), np.array(means), np.array(covs))
