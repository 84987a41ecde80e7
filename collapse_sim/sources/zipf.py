"""Real categorical data with a long tail: p_i proportional to (i + shift)^-exponent (Zipf-Mandelbrot)."""

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


def zipf_probabilities(n_classes: int, exponent: float, shift: float = 0.0) -> np.ndarray:
    """Normalised Zipf-Mandelbrot law over ranks i = 1 .. ``n_classes``: p_i ∝ (i + shift)^-exponent
    (``shift = 0`` is Zipf's law; Suresh et al. 2024 use 2.7 and 5, which flatten the head)."""
    weights = (np.arange(1, n_classes + 1, dtype=float) + shift) ** -exponent
    return weights / weights.sum()


class ZipfSource(ModelSource):
    """Labels from a Zipf-Mandelbrot law over ``n_classes`` classes, independently per replicate."""

    provides = ModelSource.provides | data_of("categorical")

    def __init__(
        self,
        *,
        replicates: int,
        pool_size: int,
        n_classes: int = 20,
        exponent: float = 1.1,
        shift: float = 0.0,
        test_size: int = 0,
    ) -> None:
        n_classes = positive_int("n_classes", n_classes, minimum=2)
        if not exponent >= 0:
            raise ConfigError("exponent", f"must be >= 0 (0 = uniform classes), got {exponent!r}")
        if not (isinstance(shift, int | float) and not isinstance(shift, bool) and shift >= 0):
            raise ConfigError("shift", f"must be a number >= 0 (0 = Zipf's law), got {shift!r}")
        self.replicates = positive_int("replicates", replicates)
        probs = np.tile(zipf_probabilities(n_classes, exponent, shift), (self.replicates, 1))
        truth = CategoricalModel(probs, class_names(n_classes))
        super().__init__(truth, pool_size=pool_size, test_size=test_size)
