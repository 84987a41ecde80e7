"""Relabel real inputs with a fitted regression model (Gerstgrasser et al. 2024)."""

from __future__ import annotations

import numpy as np

from collapse_sim.components import Generator, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.samples import Samples


class RelabelGenerator(Generator):
    """Synthetic labels ``y = x . w_hat + N(0, noise^2)`` on the generation's first ``n`` inputs.

    Mixing policies put real samples first, so under ``accumulate`` these are
    the real design points; under ``replace`` they are the same inputs carried
    forward. The design therefore stays fixed, as in the closed-form analysis.
    """

    needs = data_of("regression")  # it relabels the generation's regression inputs

    def __init__(self, *, n: int, noise: float) -> None:
        if not noise >= 0:
            raise ConfigError("noise", f"must be >= 0 (it defaults to source.noise), got {noise!r}")
        self.n = n
        self.noise = float(noise)

    def generate(
        self, model, data: Samples, generation: int, rng: np.random.Generator, *, real=None
    ) -> Samples:
        """Fresh labels for the first ``n`` inputs of ``data``."""
        x = data["x"][:, : self.n].copy()  # a view would keep the whole training array alive
        y = model.predict(x) + self.noise * rng.standard_normal(x.shape[:2])
        return Samples.made_by(generation, x=x, y=y)
