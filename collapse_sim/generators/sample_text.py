"""Text written by the generation's language model, continuing prompts from its training text."""

from __future__ import annotations

import numpy as np

from collapse_sim.checks import positive_int, sampling_options, set_options
from collapse_sim.components import Generator, data_of, sampling
from collapse_sim.errors import ConfigError
from collapse_sim.text.data import TextSet
from collapse_sim.text.decoding import NEUTRAL_DECODING, decoding_options


class SampleTextGenerator(Generator):
    """``n`` passages of ``length`` tokens, each after a ``prompt``-token prompt (0: from nothing).

    A prompt is the first ``prompt`` tokens of a passage drawn from the
    generation's training data (Shumailov et al. 2024: 64 tokens of prompt,
    64 generated); only the generated tokens become training text.
    ``temperature`` T samples p^(1/T); ``top_k`` and ``top_p`` truncate the tail.
    ``beams`` > 1 writes the likeliest continuation found by a beam search
    instead (Shumailov et al. used 5); ``repetition_penalty`` raises a seen
    token's probability to that power (``collapse_sim.text.decoding``).
    """

    needs = data_of("text")

    def __init__(
        self,
        *,
        n: int,
        length: int,
        prompt: int = 0,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        beams: int | None = None,
        repetition_penalty: float = 1.0,
    ) -> None:
        self.n, self.length = positive_int("n", n), positive_int("length", length)
        self.prompt = positive_int("prompt", prompt, minimum=0)
        self.row_tokens = self.prompt + self.length  # what the model must hold of a row
        drawing = sampling_options(temperature, top_k, top_p)
        decoding = decoding_options(beams, repetition_penalty, drawing)
        self.options = drawing | decoding
        # The options set away from neutral: the trainer's models must honour them.
        chosen = set_options(drawing) + set_options(decoding, NEUTRAL_DECODING)
        self.needs = type(self).needs | sampling(*chosen)
        if beams and beams > 1 and not self.prompt:
            raise ConfigError(
                "beams",
                f"is {beams} with prompt=0: a beam search from nothing writes the same passage n times; "
                "give a prompt (generator.prompt=16) or sample (beams=null)",
            )

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
