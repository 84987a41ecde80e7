"""Ordinary least squares, batched over replicates."""

from __future__ import annotations

import numpy as np

from collapse_sim.components import Trainer, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.models.linear import LinearModel
from collapse_sim.samples import Samples


class OLSTrainer(Trainer):
    """Least-squares weights; the noise level is the residual standard deviation.

    With sample weights ω (normalised) it is weighted least squares, and the
    noise variance is Σ ω r² times n_eff / (n_eff - d), n_eff = 1 / Σ ω² (n
    when the weights are equal, as in the unweighted fit).
    """

    needs = data_of("regression")
    provides = frozenset({"sample weights"})  # mixing=weighted
    sampling_options = LinearModel.sampling_options

    @classmethod
    def expected_curves(cls, config: dict) -> dict[str, np.ndarray]:
        """E[param_error] and E[test_mse] on a fixed design relabelled by the previous fit, under replace
        or accumulate (``theory.linreg_param_error``); or with a fixed wrong model's labels mixed into
        fresh real data (``theory.strong_collapse_error``)."""
        from collapse_sim import theory
        from collapse_sim.generators.relabel import RelabelGenerator
        from collapse_sim.generators.wrong_model import WrongModelGenerator
        from collapse_sim.mixing import AccumulateMixing, FreshMixing, ReplaceMixing
        from collapse_sim.sources.linreg import LinearRegressionSource

        applies = theory.chosen(config, "source", LinearRegressionSource)
        if applies and theory.chosen(config, "generator", WrongModelGenerator):
            parts = theory.Components(config)  # plain fresh mixing only (weighted is another estimator)
            return cls._strong_collapse_curves(parts) if type(parts.mixing) is FreshMixing else {}
        replace = theory.chosen(config, "mixing", ReplaceMixing)
        name = (
            "replace"
            if replace
            else "accumulate"
            if theory.chosen(config, "mixing", AccumulateMixing)
            else None
        )
        if not (applies and theory.chosen(config, "generator", RelabelGenerator) and name):
            return {}
        parts = theory.Components(config)
        source, n = parts.source, parts.n_samples
        if not (source.pool_size == n and parts.generator.noise == source.noise):  # a fixed design
            return {}
        error = theory.linreg_param_error(
            parts.generations, n=n, dim=source.dim, noise=source.noise, mixing=name
        )
        return {"param_error": error, "test_mse": error + source.noise**2}

    @staticmethod
    def _strong_collapse_curves(parts) -> dict[str, np.ndarray]:
        """Generation 0 trains on real data alone; every later one on a fresh mix with the wrong model's
        labels (``theory.strong_collapse_error``)."""
        from collapse_sim import theory

        source, generator, n = parts.source, parts.generator, parts.n_samples
        synthetic = n - round(parts.mixing.real_fraction * n)
        if generator.noise != source.noise:  # the closed form has one noise for both kinds of label
            return {}
        settings = {"dim": source.dim, "noise": source.noise, "distance": generator.distance}
        error = np.full(parts.generations, theory.strong_collapse_error(n, synthetic=synthetic, **settings))
        error[0] = theory.strong_collapse_error(n, synthetic=0, **settings)
        return {"param_error": error, "test_mse": error + source.noise**2}

    def fit(self, data: Samples, *, init=None, rng=None, generation: int = 0) -> LinearModel:
        """Solve the normal equations for every replicate at once."""
        x, y = data["x"], data["y"]
        n, d = x.shape[1], x.shape[2]
        if n <= d:
            raise ConfigError("n_samples", f"must exceed source.dim = {d} for least squares, got {n}")
        omega = data.fit_weights()
        xt = x.transpose(0, 2, 1)  # matmul, not einsum: einsum would build an (R, N, d, d) temporary
        if omega is not None:
            xt = xt * omega[:, None, :]
        weights = np.linalg.solve(xt @ x, xt @ y[..., None])[..., 0]
        residual = y - np.einsum("rnd,rd->rn", x, weights)
        if omega is None:
            return LinearModel(weights, float(np.sqrt(np.mean(residual**2) * n / (n - d))))
        n_eff = 1.0 / (omega**2).sum(axis=1)
        noise = (omega * residual**2).sum(axis=1) * n_eff / (n_eff - d)
        return LinearModel(weights, float(np.sqrt(np.mean(noise))))
