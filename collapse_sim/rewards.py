"""Rewards that curate a model's samples (Ferbach et al. 2024), and the curation they drive.

A reward (``reward=``) scores samples. With one chosen, each generation's
synthetic data is curated: every kept sample is drawn among ``k`` candidates
from the generation's model, candidate j with probability
exp(r_j / beta) / sum_i exp(r_i / beta), a Bradley-Terry choice (``beta = 0``
keeps the best). Curation composes with every mixing policy: it changes what
the model's samples are, not how they mix with real data. A reward is also a
metric: ``reward_mean``, the mean reward of each generation's training data.

As ``k`` grows the kept samples follow the model's distribution tilted by
exp(r / beta); ``collapse_sim.theory.curated_gaussian_precision`` gives what
that does to a Gaussian under the quadratic reward, generation after generation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import Generator, RealData, Reward, RunContext, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.samples import Samples


def _curation(k: int, beta: float) -> tuple[int, float]:
    k = positive_int("k", k)
    if not (isinstance(beta, int | float) and not isinstance(beta, bool) and beta >= 0):
        raise ConfigError("beta", f"must be a number >= 0 (0 keeps the best candidate), got {beta!r}")
    return k, float(beta)


class QuadraticReward(Reward):
    """r(x) = -scale |x - target|^2: a preference for samples near ``target`` (Gaussian family)."""

    needs = data_of("gaussian")

    def __init__(self, *, target: float | Sequence[float] = 1.0, scale: float = 1.0, k: int = 4, beta=1.0):
        self.k, self.beta = _curation(k, beta)
        if not scale > 0:
            raise ConfigError("scale", f"must be > 0, got {scale!r}")
        self.target = np.atleast_1d(np.asarray(target, dtype=float))
        self.scale = float(scale)

    def check(self, sim) -> None:
        """``target`` is one number or one per dimension of the source."""
        dim = sim.source.truth.means.shape[-1]
        if self.target.size not in (1, dim):
            raise ConfigError(
                "reward.target", f"must be one number or {dim} (one per source dimension), got {self.target}"
            )

    def score(self, data: Samples) -> np.ndarray:
        """-scale |x - target|^2 per sample."""
        return -self.scale * ((data["x"] - self.target) ** 2).sum(axis=-1)


class ClassPreferenceReward(Reward):
    """A reward per class: ``rewards[i]`` for class i (classes past the list get 0)."""

    needs = data_of("categorical")

    def __init__(self, *, rewards: Sequence[float] = (1.0,), k: int = 4, beta=1.0):
        self.k, self.beta = _curation(k, beta)
        values = np.asarray(rewards, dtype=float)
        if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
            raise ConfigError("rewards", f"must be a non-empty list of numbers, one a class, got {rewards!r}")
        self.rewards = values

    def check(self, sim) -> None:
        """No more rewards than the source has classes."""
        classes = len(sim.source.truth.class_names)
        if self.rewards.size > classes:
            raise ConfigError(
                "reward.rewards",
                f"gives {self.rewards.size} rewards but the source has {classes} classes; "
                "give one a class at most",
            )

    def score(self, data: Samples) -> np.ndarray:
        """The reward of each sample's class."""
        padded = np.zeros(int(data["label"].max(initial=0)) + 1)
        padded[: min(padded.size, self.rewards.size)] = self.rewards[: padded.size]
        return padded[data["label"]]


class CuratedGenerator(Generator):
    """The chosen generator, curated by a reward: ``k`` batches of its samples, one kept a slot."""

    def __init__(self, inner: Generator, reward: Reward) -> None:
        self.inner, self.reward = inner, reward
        self.needs = inner.needs
        self.provides = inner.provides
        self.chain_bytes = inner.chain_bytes
        self.row_tokens = inner.row_tokens

    def setup(self, context: RunContext) -> None:
        """The chosen generator's setup."""
        self.inner.setup(context)

    def check(self, sim) -> None:
        """The chosen generator's checks."""
        self.inner.check(sim)

    def generate(self, model, data, generation: int, rng: np.random.Generator, *, real: RealData):
        """``k`` batches from the chosen generator (the first is what it alone makes), one kept a slot."""
        batches = [self.inner.generate(model, data, generation, rng, real=real) for _ in range(self.reward.k)]
        if self.reward.k == 1:
            return batches[0]
        return self.reward.choose(batches[0].concat(batches), len(batches[0]), rng)
