"""Real data for linear regression: x ~ N(0, I_d), y = x . w* + N(0, noise^2)."""

from __future__ import annotations

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import RealData, Source, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.models.linear import LinearModel
from collapse_sim.samples import Samples


class LinearRegressionSource(Source):
    """Each replicate has its own true weights ``w* ~ N(0, I_d / d)``."""

    provides = data_of("regression") | {"vectorised replicates"}

    def __init__(
        self,
        *,
        replicates: int,
        pool_size: int,
        dim: int = 10,
        noise: float = 1.0,
        test_size: int = 1000,
    ) -> None:
        self.replicates = positive_int("replicates", replicates)
        self.dim = positive_int("dim", dim)
        self.pool_size = positive_int("pool_size", pool_size)
        if self.pool_size <= self.dim + 1:
            raise ConfigError(
                "pool_size",
                f"must exceed source.dim + 1 = {self.dim + 1} so least squares is determined "
                f"(it defaults to n_samples), got {pool_size}",
            )
        if not noise > 0:
            raise ConfigError("noise", f"must be > 0, got {noise!r}")
        self.noise = float(noise)
        self.test_size = positive_int("test_size", test_size)
        self.truth: LinearModel | None = None

    def draw(self, n: int, rng: np.random.Generator) -> Samples:
        """``n`` new real (x, y) pairs per replicate."""
        x = rng.standard_normal((self.replicates, n, self.dim))
        y = self.truth.predict(x) + self.noise * rng.standard_normal((self.replicates, n))
        return Samples.real(x=x, y=y)

    def load(self, rng: np.random.Generator) -> RealData:
        """True weights, the training pool and the fixed test set."""
        weights = rng.standard_normal((self.replicates, self.dim)) / np.sqrt(self.dim)
        self.truth = LinearModel(weights, self.noise)
        train = self.draw(self.pool_size, rng)
        return RealData(train, self.draw(self.test_size, rng), self.truth, self.draw)
