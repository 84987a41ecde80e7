"""Real categorical data with a long tail: p_i proportional to i^-exponent."""

from __future__ import annotations

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import data_of
from collapse_sim.errors import ConfigError
from collapse_sim.models.categorical import CategoricalModel
from collapse_sim.sources._base import ModelSource


def class_names(n_classes: int) -> tuple[str, ...]:
    """Stable, sortable labels ``class_00``, ``class_01``, ... (rank order: 00 is commonest)."""
    width = max(2, len(str(n_classes - 1)))
    return tuple(f"class_{i:0{width}d}" for i in range(n_classes))


def zipf_probabilities(n_classes: int, exponent: float) -> np.ndarray:
    """Normalised Zipf law over ``n_classes`` ranks."""
    weights = np.arange(1, n_classes + 1, dtype=float) ** -exponent
    return weights / weights.sum()


class ZipfSource(ModelSource):
    """Labels from a Zipf law over ``n_classes`` classes, independently per replicate."""

    provides = ModelSource.provides | data_of("categorical")

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
        self.replicates = positive_int("replicates", replicates)
        probs = np.tile(zipf_probabilities(n_classes, exponent), (self.replicates, 1))
        truth = CategoricalModel(probs, class_names(n_classes))
        super().__init__(truth, pool_size=pool_size, test_size=test_size)
