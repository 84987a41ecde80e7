"""Decoding: sampling (temperature, top-k, top-p) or beam search, and a repetition penalty.

A model hands ``decode`` a decoder over its prompt rows: ``probs()`` is each
row's next-token distribution, ``advance(parents, tokens)`` continues row
``i`` from the old row ``parents[i]`` with ``tokens[i]`` (``parents=None``
keeps the rows as they are, as sampling does; beam search reorders and, at its
first step, multiplies them). The decoder's own state follows the rows: the
tiny decoder's key-value cache, the n-gram's last ``order - 1`` tokens.

The repetition penalty (Keskar et al. 2019) multiplies the log-probability of
every token already in the row, prompt included, by ``repetition_penalty``
(> 1 makes repeats less likely) and renormalises.
"""

from __future__ import annotations

import inspect
from typing import Protocol

import numpy as np

from collapse_sim.checks import set_options
from collapse_sim.draws import draw_tokens
from collapse_sim.errors import ConfigError

NEUTRAL_DECODING = {"beams": None, "repetition_penalty": 1.0}  # sample, and no penalty


class Decoder(Protocol):
    """A model's next-token distributions over a batch of rows, and how to continue them."""

    def probs(self) -> np.ndarray: ...

    def advance(self, parents: np.ndarray | None, tokens: np.ndarray) -> None: ...


def penalise(probs: np.ndarray, seen: np.ndarray, penalty: float) -> np.ndarray:
    """``probs`` ``(D, V)`` with each ``seen`` token's probability raised to ``penalty``, renormalised."""
    if penalty == 1.0:
        return probs
    shaped = np.where(seen, probs**penalty, probs)
    return shaped / shaped.sum(axis=1, keepdims=True)


def decode(
    decoder: Decoder,
    prompts: np.ndarray,
    length: int,
    rng: np.random.Generator,
    *,
    vocab_size: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    beams: int | None = None,
    repetition_penalty: float = 1.0,
) -> np.ndarray:
    """``length`` tokens after each prompt row ``(D, p)``: ``(D, length)``, drawn with ``rng`` or by beams."""
    rows = len(prompts)
    seen = np.zeros((rows, vocab_size), dtype=bool)
    seen[np.repeat(np.arange(rows), prompts.shape[1]), np.asarray(prompts).reshape(-1)] = True
    if beams and beams > 1:
        return _beam_search(decoder, seen, length, beams, repetition_penalty)
    out = np.empty((rows, length), dtype=np.int32)
    for t in range(length):
        probs = penalise(decoder.probs(), seen, repetition_penalty)
        out[:, t] = draw_tokens(probs, rng, temperature=temperature, top_k=top_k, top_p=top_p)
        seen[np.arange(rows), out[:, t]] = True
        if t < length - 1:  # the last token needs no distribution after it
            decoder.advance(None, out[:, t])
    return out


def _beam_search(decoder: Decoder, seen: np.ndarray, length: int, beams: int, penalty: float) -> np.ndarray:
    """The most likely continuation of each row among ``beams`` kept at every step (no randomness)."""
    rows, vocab = seen.shape
    with np.errstate(divide="ignore"):
        scores = np.log(penalise(decoder.probs(), seen, penalty))  # (D, V): each row is one beam so far
    width = min(beams, vocab)
    best = _top(scores, width)
    total = np.take_along_axis(scores, best, axis=1).reshape(-1)  # (D * width), best first in each row
    parents, tokens = np.repeat(np.arange(rows), width), best.reshape(-1)
    out = tokens[:, None]
    for _ in range(1, length):
        seen = seen[parents]
        seen[np.arange(len(tokens)), tokens] = True
        decoder.advance(parents, tokens)
        with np.errstate(divide="ignore"):
            scores = total[:, None] + np.log(penalise(decoder.probs(), seen, penalty))
        scores = scores.reshape(rows, width * vocab)  # every continuation of a row's beams
        kept = min(beams, width * vocab)
        best = _top(scores, kept)
        total = np.take_along_axis(scores, best, axis=1).reshape(-1)
        parents = (np.arange(rows)[:, None] * width + best // vocab).reshape(-1)
        tokens, width = (best % vocab).reshape(-1), kept
        out = np.concatenate([out[parents], tokens[:, None]], axis=1)
    return out.reshape(rows, width, length)[:, 0].astype(np.int32)  # beams stay sorted: the first is best


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """The columns of each row's ``k`` highest scores, highest first."""
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


# What decode takes besides the vocabulary: the options a model that decodes with it honours.
DECODING_OPTIONS = tuple(
    name
    for name, parameter in inspect.signature(decode).parameters.items()
    if parameter.kind is parameter.KEYWORD_ONLY and name != "vocab_size"
)


def decoding_options(beams: int | None, repetition_penalty: float, sampling: dict) -> dict:
    """Checked beam search and repetition penalty: ``beams`` null or >= 1 with neutral ``sampling``
    (beam search draws nothing), ``repetition_penalty`` > 0 (1 = none)."""
    if beams is not None and not (isinstance(beams, int) and beams >= 1):
        raise ConfigError("beams", f"must be null (sample) or an integer >= 1 (beam search), got {beams!r}")
    if beams and beams > 1 and set_options(sampling):
        raise ConfigError(
            "beams",
            f"is {beams}: beam search keeps the likeliest continuations and draws nothing, so "
            f"{', '.join(set_options(sampling))} would be ignored; set beams=null to sample, or leave them",
        )
    if not repetition_penalty > 0:
        raise ConfigError(
            "repetition_penalty",
            f"must be > 0 (1 = none, > 1 makes repeats less likely), got {repetition_penalty!r}",
        )
    return {"beams": beams, "repetition_penalty": float(repetition_penalty)}
