"""Sources whose real data are draws from a known model (the toy families)."""

from __future__ import annotations

from typing import Any

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import RealData, Source
from collapse_sim.samples import Samples


class ModelSource(Source):
    """Real data drawn from ``truth``, ``replicates`` chains at once; subclasses declare their data."""

    provides: frozenset[str] = frozenset({"vectorised replicates"})

    def __init__(self, truth: Any, *, pool_size: int, test_size: int) -> None:
        self.truth = truth
        self.pool_size = positive_int("pool_size", pool_size)
        self.test_size = positive_int("test_size", test_size, minimum=0)

    def draw(self, n: int, rng: np.random.Generator) -> Samples:
        """``n`` new real samples per replicate."""
        return Samples.real(**{self.truth.field: self.truth.sample(n, rng)})

    def load(self, rng: np.random.Generator) -> RealData:
        """The training pool, an optional test set and the true model."""
        test = self.draw(self.test_size, rng) if self.test_size else None
        return RealData(self.draw(self.pool_size, rng), test, self.truth, self.draw)
