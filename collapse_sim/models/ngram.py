"""An interpolated Kneser–Ney n-gram model over a run's token ids, counted and queried with numpy.

Each passage is read on its own, its first tokens preceded by ``order - 1``
padding ids (``vocab_size``). An n-gram is one int64 key in base
``vocab_size + 1``. The top order uses raw counts, lower orders continuation
counts (how many different tokens precede an n-gram), each discounted by
``discount`` and interpolated with the order below (Chen and Goodman 1998);
the unigram level falls back on the uniform distribution. With ``order=1`` and
``discount=0`` it is the maximum-likelihood categorical distribution of tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collapse_sim.text.decoding import DECODING_OPTIONS, decode


@dataclass(frozen=True)
class _Level:
    """Counts of one order: sorted n-gram keys and their counts; for order >= 2 their contexts' totals."""

    keys: np.ndarray
    counts: np.ndarray
    contexts: np.ndarray  # sorted context keys (the first order - 1 tokens)
    totals: np.ndarray  # total count after each context
    types: np.ndarray  # distinct tokens seen after each context


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    at = np.searchsorted(keys, query)
    at = np.minimum(at, len(keys) - 1) if len(keys) else at
    found = (at < len(keys)) & (keys[at] == query) if len(keys) else np.zeros(query.shape, bool)
    return np.where(found, values[at] if len(keys) else 0.0, 0.0)


class NGramModel:
    """Token probabilities given the previous ``order - 1`` tokens, fitted to passages ``(N, L)``."""

    sampling_options = DECODING_OPTIONS

    def __init__(self, passages: np.ndarray, *, vocab_size: int, order: int, discount: float) -> None:
        self.vocab_size, self.order, self.discount = vocab_size, order, discount
        self.base = vocab_size + 1  # one more id: the padding before a passage's first token
        grams = self._grams(np.asarray(passages, dtype=np.int64))
        self.levels: list[_Level] = []
        previous = None
        for k in range(order, 0, -1):  # top order first: lower orders count its distinct left extensions
            if previous is None:
                keys, counts = np.unique(grams[k - 1], return_counts=True)
            else:
                keys, counts = np.unique(previous % self.base**k, return_counts=True)
            previous = keys
            self.levels.insert(0, self._level(keys, counts.astype(float), k))

    def _grams(self, passages: np.ndarray) -> list[np.ndarray]:
        """Keys of the k-gram ending at every token, k = 1..order, each ``(N, L)``."""
        n, length = passages.shape
        padded = np.concatenate([np.full((n, self.order - 1), self.vocab_size), passages], axis=1)
        keys, grams = np.zeros((n, length), dtype=np.int64), []
        for back in range(self.order):  # add one more token of context on the left each time
            start = self.order - 1 - back
            keys = keys + padded[:, start : start + length] * self.base**back
            grams.append(keys.copy())
        return grams

    def _level(self, keys: np.ndarray, counts: np.ndarray, k: int) -> _Level:
        if k == 1:
            return _Level(
                keys, counts, np.zeros(1, np.int64), np.array([counts.sum()]), np.array([len(keys)])
            )
        context = keys // self.base
        contexts, first, types = np.unique(context, return_index=True, return_counts=True)
        totals = np.add.reduceat(counts, first)
        return _Level(keys, counts, contexts, totals, types.astype(float))

    def log2_probs(self, passages: np.ndarray) -> np.ndarray:
        """log2 of the probability of every token of ``passages`` ``(N, L)`` given the ones before it."""
        grams = self._grams(np.asarray(passages, dtype=np.int64))
        d = self.discount
        unigram = self.levels[0]
        total = unigram.totals[0]
        prob = np.maximum(_lookup(unigram.keys, unigram.counts, grams[0]) - d, 0) / total
        prob = prob + d * unigram.types[0] / total / self.vocab_size
        for k in range(2, self.order + 1):
            level = self.levels[k - 1]
            context = grams[k - 1] // self.base
            seen = _lookup(level.contexts, level.totals, context)
            types = _lookup(level.contexts, level.types, context)
            count = _lookup(level.keys, level.counts, grams[k - 1])
            with np.errstate(divide="ignore", invalid="ignore"):
                mixed = (np.maximum(count - d, 0) + d * types * prob) / seen
            prob = np.where(seen > 0, mixed, prob)
        with np.errstate(divide="ignore"):
            return np.log2(prob)

    def next_probs(self, history: np.ndarray) -> np.ndarray:
        """The distribution of the next token after each row of ``history`` ``(D, order - 1)``: ``(D, V)``."""
        rows, d, v = len(history), self.discount, self.vocab_size
        unigram = self.levels[0]
        counts = np.zeros(v)
        counts[unigram.keys[unigram.keys < v]] = unigram.counts[unigram.keys < v]
        total = unigram.totals[0]
        prob = np.tile(np.maximum(counts - d, 0) / total + d * unigram.types[0] / total / v, (rows, 1))
        history = np.asarray(history, dtype=np.int64)
        for k in range(2, self.order + 1):
            level = self.levels[k - 1]
            context = np.zeros(rows, dtype=np.int64)
            for token in history[:, history.shape[1] - (k - 1) :].T:
                context = context * self.base + token
            seen = _lookup(level.contexts, level.totals, context)
            types = _lookup(level.contexts, level.types, context)
            lo = np.searchsorted(level.keys, context * self.base)
            hi = np.searchsorted(level.keys, context * self.base + self.base)
            sizes = hi - lo
            row = np.repeat(np.arange(rows), sizes)
            at = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes - lo, sizes)  # every lo..hi
            mixed = d * types[:, None] * prob
            np.add.at(mixed, (row, level.keys[at] % self.base), np.maximum(level.counts[at] - d, 0))
            with np.errstate(divide="ignore", invalid="ignore"):
                prob = np.where(seen[:, None] > 0, mixed / seen[:, None], prob)
        return prob

    def generate(self, prompts: np.ndarray, length: int, rng: np.random.Generator, **options) -> np.ndarray:
        """``length`` new tokens after each prompt row ``(D, p)`` (``p`` may be 0): ``(D, length)``.

        The options are ``decoding.decode``'s.
        """
        decoder = _NGramDecoder(self, prompts)
        return decode(decoder, prompts, length, rng, vocab_size=self.vocab_size, **options)


class _NGramDecoder:
    """An n-gram model's next-token distributions over rows, each keeping its last ``order - 1`` tokens."""

    def __init__(self, model: NGramModel, prompts: np.ndarray) -> None:
        self.model, self.keep = model, model.order - 1
        padding = np.full((len(prompts), self.keep), model.vocab_size, dtype=np.int64)  # before any text
        history = np.concatenate([padding, np.asarray(prompts, np.int64)], axis=1)
        self.history = history[:, history.shape[1] - self.keep :]

    def probs(self) -> np.ndarray:
        """Each row's next-token distribution ``(D, V)``."""
        return self.model.next_probs(self.history)

    def advance(self, parents: np.ndarray | None, tokens: np.ndarray) -> None:
        """Continue row ``parents[i]`` (or row ``i``) with ``tokens[i]``."""
        history = self.history if parents is None else self.history[parents]
        grown = np.concatenate([history, np.asarray(tokens, np.int64)[:, None]], axis=1)
        self.history = grown[:, grown.shape[1] - self.keep :]
