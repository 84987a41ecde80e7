"""Real categorical data with a long tail: p_i proportional to i^-exponent."""

from __future__ import annotations

import numpy as np

from collapse_sim.errors import ConfigError
from collapse_sim.models.categorical import CategoricalModel
from collapse_sim.protocols import RealData
from collapse_sim.samples import Samples
from collapse_sim.sources._checks import positive_int


def class_names(n_classes: int) -> tuple[str, ...]:
    """Stable, sortable labels ``class_00``, ``class_01``, ... (rank order: 00 is commonest)."""
    width = max(2, len(str(n_classes - 1)))
    return tuple(f"class_{i:0{width}d}" for i in range(n_classes))


def zipf_probabilities(n_classes: int, exponent: float) -> np.ndarray:
    """Normalised Zipf law over ``n_classes`` ranks."""
    weights = np.arange(1, n_classes + 1, dtype=float) ** -exponent
    return weights / weights.sum()


class ZipfSource:
    """Labels from a Zipf law over ``n_classes`` classes, independently per replicate."""

    family = "categorical"

    def __init__(
        self,
        *,
        replicates: int,
        pool_size: int,
        n_classes: int = 20,
        exponent: float = 1.1,
        test_size: int = 0,
    ) -> None:
        n_classes = positive_int("n_classes", n_classes, minimum=2)
        if not exponent >= 0:
            raise ConfigError("exponent", f"must be >= 0 (0 = uniform classes), got {exponent!r}")
        probs = np.tile(zipf_probabilities(n_classes, exponent), (positive_int("replicates", replicates), 1))
        self.truth = CategoricalModel(probs, class_names(n_classes))
        self.pool_size = positive_int("pool_size", pool_size)
        self.test_size = positive_int("test_size", test_size, minimum=0)

    def draw(self, n: int, rng: np.random.Generator) -> Samples:
        """``n`` new real labels per replicate."""
        return Samples.real(label=self.truth.sample(n, rng))

    def load(self, rng: np.random.Generator) -> RealData:
        """The training pool, an optional test set and the true class law."""
        test = self.draw(self.test_size, rng) if self.test_size else None
        return RealData(self.draw(self.pool_size, rng), test, self.truth, self.draw)
