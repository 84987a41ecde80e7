"""Sample from the fitted toy model, optionally biased toward its mode."""

from __future__ import annotations

import copy

import numpy as np

from collapse_sim.checks import sampling_options, set_options
from collapse_sim.components import Generator, sampling
from collapse_sim.errors import ConfigError
from collapse_sim.samples import Samples


class RefitSampleGenerator(Generator):
    """``n`` samples per replicate from the model, with temperature and tail truncation.

    ``temperature`` T samples from p^(1/T): a Gaussian's covariance is scaled by
    T, class probabilities are sharpened (T < 1) or flattened (T > 1).
    ``top_k`` keeps the k likeliest classes; ``top_p`` keeps the smallest set of
    classes (or the central region of a Gaussian) holding mass ``top_p``.
    """

    needs = frozenset({"model sampling"})  # a trainer whose models draw samples (model.sample)

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
        self.n = n
        self.options = sampling_options(temperature, top_k, top_p)
        # The options set away from their neutral value: the trainer's models must honour them.
        self.needs = type(self).needs | sampling(*set_options(self.options))

    def share(self, parts: int) -> RefitSampleGenerator:
        """This generator drawing ``n / parts`` samples a model."""
        if self.n % parts:
            raise ConfigError(
                "generator.n",
                f"is {self.n}, which lineages={parts} does not divide: each lineage adds an equal share of "
                f"its chain's next pool; choose a multiple of {parts}",
            )
        shared = copy.copy(self)
        shared.n = self.n // parts
        return shared

    def generate(
        self, model, data: Samples, generation: int, rng: np.random.Generator, *, real=None
    ) -> Samples:
        """New samples made by ``model`` (the model of ``generation``)."""
        options = {k: v for k, v in self.options.items() if k in model.sampling_options}
        return Samples.made_by(generation, **{model.field: model.sample(self.n, rng, **options)})
