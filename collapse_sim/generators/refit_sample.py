"""Sample from the fitted toy model, optionally biased toward its mode."""

from __future__ import annotations

import numpy as np

from collapse_sim.errors import ConfigError
from collapse_sim.protocols import sampling
from collapse_sim.samples import Samples


class RefitSampleGenerator:
    """``n`` samples per replicate from the model, with temperature and tail truncation.

    ``temperature`` T samples from p^(1/T): a Gaussian's covariance is scaled by
    T, class probabilities are sharpened (T < 1) or flattened (T > 1).
    ``top_k`` keeps the k likeliest classes; ``top_p`` keeps the smallest set of
    classes (or the central region of a Gaussian) holding mass ``top_p``.
    """

    def __init__(
        self,
        *,
        n: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> None:
        if not (isinstance(n, int) and n >= 1):
            raise ConfigError("n", f"must be an integer >= 1 (it defaults to n_samples), got {n!r}")
        if not temperature > 0:
            raise ConfigError("temperature", f"must be > 0 (1 = faithful sampling), got {temperature!r}")
        if top_k is not None and not (isinstance(top_k, int) and top_k >= 1):
            raise ConfigError("top_k", f"must be null or an integer >= 1, got {top_k!r}")
        if top_p is not None and not 0 < top_p <= 1:
            raise ConfigError("top_p", f"must be null or in (0, 1], got {top_p!r}")
        self.n = n
        self.options = {"temperature": temperature, "top_k": top_k, "top_p": top_p}

    @property
    def needs(self) -> frozenset[str]:
        """The sampling options set away from their neutral value: the trainer's models must honour them."""
        neutral = {"temperature": 1.0, "top_k": None, "top_p": None}
        return sampling(*(k for k, v in self.options.items() if v != neutral[k]))

    def generate(
        self, model, data: Samples, generation: int, rng: np.random.Generator, *, real=None
    ) -> Samples:
        """New samples made by ``model`` (the model of ``generation``)."""
        options = {k: v for k, v in self.options.items() if k in model.sampling_options}
        return Samples.made_by(generation, **{model.field: model.sample(self.n, rng, **options)})
