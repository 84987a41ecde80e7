"""Labels from a fixed wrong model (Dohmatob, Feng, Subramonian & Kempe 2025, "strong model collapse")."""

from __future__ import annotations

import numpy as np

from collapse_sim.components import Generator, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.samples import Samples


class WrongModelGenerator(Generator):
    """``n`` new inputs x ~ N(0, I) labelled ``y = x . (w* + delta) + N(0, noise^2)``: a fixed model that
    misses the truth by ``distance`` along the first axis, whatever the previous fit was.

    Mixed with fresh real data (``mixing=fresh``, a share p synthetic), least
    squares converges to w* + p delta, so its error stops falling as n grows:
    ``theory.strong_collapse_error``.
    """

    needs = data_of("regression")  # it labels regression inputs, knowing the true weights

    def __init__(self, *, n: int, distance: float = 1.0, noise: float = 1.0) -> None:
        if not distance >= 0:
            raise ConfigError(
                "distance", f"must be >= 0 (how far the wrong model is from w*), got {distance!r}"
            )
        if not noise >= 0:
            raise ConfigError("noise", f"must be >= 0 (it defaults to source.noise), got {noise!r}")
        self.n, self.distance, self.noise = n, float(distance), float(noise)

    def generate(
        self, model, data: Samples, generation: int, rng: np.random.Generator, *, real=None
    ) -> Samples:
        """Fresh inputs and the wrong model's noisy labels, per replicate."""
        truth = real.truth.weights  # (R, d)
        wrong = truth.copy()
        wrong[:, 0] += self.distance
        x = rng.standard_normal((truth.shape[0], self.n, truth.shape[1]))
        y = np.einsum("rnd,rd->rn", x, wrong) + self.noise * rng.standard_normal(x.shape[:2])
        return Samples.made_by(generation, x=x, y=y)
