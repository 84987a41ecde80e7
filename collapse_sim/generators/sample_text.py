"""Text written by the generation's language model, continuing prompts from its training text."""

from __future__ import annotations

import numpy as np

from collapse_sim.checks import positive_int, sampling_options, set_options
from collapse_sim.errors import ConfigError
from collapse_sim.protocols import data_of, sampling
from collapse_sim.text.data import TextSet


class SampleTextGenerator:
    """``n`` passages of ``length`` tokens, each after a ``prompt``-token prompt (0: from nothing).

    A prompt is the first ``prompt`` tokens of a passage drawn from the
    generation's training data (Shumailov et al. 2024: 64 tokens of prompt,
    64 generated); only the generated tokens become training text.
    ``temperature`` T samples p^(1/T); ``top_k`` and ``top_p`` truncate the tail.
    """

    def __init__(
        self,
        *,
        n: int,
        length: int,
        prompt: int = 0,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> None:
        self.n, self.length = positive_int("n", n), positive_int("length", length)
        self.prompt = positive_int("prompt", prompt, minimum=0)
        self.options = sampling_options(temperature, top_k, top_p)

    @property
    def needs(self) -> frozenset[str]:
        """Text data, and the sampling options set away from neutral (the trainer's models honour them)."""
        return data_of("text") | sampling(*set_options(self.options))

    def check(self, sim) -> None:
        """Generated passages join the real ones: they must be as long, and a prompt shorter."""
        tokens = sim.source.passage_tokens
        if self.length != tokens:
            raise ConfigError(
                "generator.length",
                f"is {self.length} tokens but the source's passages hold source.passage_tokens={tokens}; "
                "generated passages are mixed with real ones, so leave length at ${source.passage_tokens}",
            )
        if self.prompt >= tokens:
            raise ConfigError(
                "generator.prompt",
                f"is {self.prompt} tokens, not shorter than a passage ({tokens}); lower generator.prompt",
            )

    def generate(
        self, model, data: TextSet, generation: int, rng: np.random.Generator, *, real=None
    ) -> TextSet:
        """``n`` new passages from ``model`` (the model of ``generation``)."""
        starts = rng.integers(len(data), size=self.n)
        prompts = data.tokens[starts, : self.prompt]
        return TextSet.made_by(generation, model.generate(prompts, self.length, rng, **self.options))
