"""Fit an interpolated Kneser–Ney n-gram model to a generation's passages: the text family's fast member."""

from __future__ import annotations

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import RunContext, Trainer, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.models.ngram import NGramModel
from collapse_sim.text.data import TextSet


class NGramTrainer(Trainer):
    """Count the ``order``-grams of a generation's tokens, discounted by ``discount`` (seconds a generation).

    A warm start is ignored: a count model has nothing to fine-tune.
    """

    needs = data_of("text") | {"real data"}  # the run's tokenizer gives the vocabulary size
    sampling_options = NGramModel.sampling_options
    chain_bytes = 0.5e9  # a chain process of vocabulary_loss: 0.21 GB peak RSS measured

    def __init__(self, *, order: int = 3, discount: float = 0.75) -> None:
        self.order = positive_int("order", order)
        if not 0 <= discount < 1:
            raise ConfigError("discount", f"must be in [0, 1) (0 = no smoothing), got {discount!r}")
        self.discount = float(discount)
        self.vocab_size: int | None = None

    def setup(self, context: RunContext) -> None:
        """The vocabulary of the run's tokenizer."""
        self.vocab_size = context.real.truth.tokenizer.vocab_size

    def fit(self, data: TextSet, *, init=None, rng: np.random.Generator, generation: int) -> NGramModel:
        """The n-gram model of ``data``'s passages."""
        if self.vocab_size is None:
            raise RuntimeError("NGramTrainer.fit before setup(context): the run hands it its tokenizer")
        return NGramModel(data.tokens, vocab_size=self.vocab_size, order=self.order, discount=self.discount)
