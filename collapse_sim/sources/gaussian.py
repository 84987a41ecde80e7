"""Real data from a d-dimensional Gaussian or a Gaussian mixture."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from collapse_sim.checks import per_dimension, positive_int
from collapse_sim.components import data_of
from collapse_sim.errors import ConfigError
from collapse_sim.models.gaussian import GaussianMixtureModel
from collapse_sim.sources._base import ModelSource


class GaussianSource(ModelSource):
    """N(mean, diag(std^2)) in ``dim`` dimensions; each replicate gets its own samples."""

    provides = ModelSource.provides | data_of("gaussian")

    def __init__(
        self,
        *,
        replicates: int,
        pool_size: int,
        dim: int = 1,
        mean: float | Sequence[float] = 0.0,
        std: float | Sequence[float] = 1.0,
        test_size: int = 0,
    ) -> None:
        dim = positive_int("dim", dim)
        replicates = positive_int("replicates", replicates)
        mu = per_dimension("mean", mean, dim, positive=False)
        sigma = per_dimension("std", std, dim, positive=True)
        truth = GaussianMixtureModel.single(
            np.tile(mu, (replicates, 1)), np.tile(np.diag(sigma**2), (replicates, 1, 1))
        )
        super().__init__(truth, pool_size=pool_size, test_size=test_size)
        self.replicates = replicates


class GMMSource(ModelSource):
    """A mixture of ``n_components`` Gaussians spaced ``separation`` apart on the first axis."""

    provides = ModelSource.provides | data_of("gaussian")

    def __init__(
        self,
        *,
        replicates: int,
        pool_size: int,
        dim: int = 2,
        n_components: int = 3,
        separation: float = 4.0,
        std: float = 1.0,
        weights: Sequence[float] | None = None,
        test_size: int = 0,
    ) -> None:
        dim = positive_int("dim", dim)
        k = positive_int("n_components", n_components)
        replicates = positive_int("replicates", replicates)
        sigma = per_dimension("std", std, dim, positive=True)
        w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (k,) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
            raise ConfigError(
                "weights",
                f"must be {k} non-negative numbers summing to 1 (one per component), got {weights!r}",
            )
        means = np.zeros((k, dim))
        means[:, 0] = separation * (np.arange(k) - (k - 1) / 2)
        truth = GaussianMixtureModel(
            np.tile(w, (replicates, 1)),
            np.tile(means, (replicates, 1, 1)),
            np.tile(np.diag(sigma**2), (replicates, k, 1, 1)),
        )
        super().__init__(truth, pool_size=pool_size, test_size=test_size)
        self.replicates = replicates
