"""How real and synthetic data combine into the next generation's training set.

Real samples always come first, so generators that reuse the training inputs
(``relabel``) see the real design points.
"""

from __future__ import annotations

import numpy as np

from collapse_sim.errors import ConfigError
from collapse_sim.protocols import RealData
from collapse_sim.samples import Samples


def _check_fraction(real_fraction: float) -> float:
    if not 0.0 <= real_fraction <= 1.0:
        raise ConfigError("real_fraction", f"must be in [0, 1], got {real_fraction!r}")
    return float(real_fraction)


class ReplaceMixing:
    """Train only on the newest synthetic set (the classic collapse loop)."""

    history_window = 1

    def mix(self, real: RealData, synthetic: Samples, history, rng) -> Samples:
        """The newest synthetic set, unchanged."""
        return synthetic


class AccumulateMixing:
    """Keep the real data and every synthetic set so far (data grows each generation)."""

    history_window = None

    def mix(self, real: RealData, synthetic: Samples, history: list[Samples], rng) -> Samples:
        """Real pool followed by all synthetic sets, oldest first."""
        return real.train.concat([real.train, *history])


class AccumulateSubsampleMixing:
    """Accumulate, then draw ``n`` samples uniformly so the training size stays fixed."""

    history_window = None

    def __init__(self, *, n: int) -> None:
        self.n = n

    def mix(self, real: RealData, synthetic: Samples, history: list[Samples], rng) -> Samples:
        """A uniform subsample of real plus all synthetic data."""
        pool = real.train.concat([real.train, *history])
        return pool.subsample(min(self.n, len(pool)), rng)


class _RealShareMixing:
    """``real_fraction`` of ``n`` real samples (from ``_real``), the rest newest synthetic."""

    history_window = 1

    def __init__(self, *, n: int, real_fraction: float = 0.2) -> None:
        self.n = n
        self.real_fraction = _check_fraction(real_fraction)

    def _real(self, real: RealData, k: int, rng: np.random.Generator) -> Samples:
        raise NotImplementedError

    def mix(self, real: RealData, synthetic: Samples, history, rng: np.random.Generator) -> Samples:
        """Real samples first, then a random subset of the newest synthetic set."""
        n_real = round(self.real_fraction * self.n)
        parts = [self._real(real, n_real, rng), synthetic.subsample(self.n - n_real, rng)]
        return synthetic.concat(parts)


class FractionMixing(_RealShareMixing):
    """A fixed share ``real_fraction`` of ``n`` from the real pool, the rest newest synthetic."""

    def _real(self, real: RealData, k: int, rng: np.random.Generator) -> Samples:
        if k > len(real.train):
            raise ConfigError(
                "real_fraction",
                f"asks for {k} real samples but the real pool holds {len(real.train)} "
                "(raise source.pool_size)",
            )
        return real.train.subsample(k, rng)  # a new random subset of the fixed pool


class FreshMixing(_RealShareMixing):
    """A share ``real_fraction`` of ``n`` drawn as *new* real samples every generation."""

    def _real(self, real: RealData, k: int, rng: np.random.Generator) -> Samples:
        return real.draw(k, rng)
