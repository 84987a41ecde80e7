"""The small interfaces components satisfy; plain classes fit them structurally."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import xarray as xr

from collapse_sim.samples import Samples


class SampleSet(Protocol):
    """What the loop and mixing policies need of training data (``Samples`` is one).

    A family with other data (images with boxes, say) satisfies this with its
    own class; ``origin`` is -1 for real samples, else the generation that made them.
    """

    origin: np.ndarray

    @property
    def replicates(self) -> int: ...

    def __len__(self) -> int: ...

    def subsample(self, k: int, rng: np.random.Generator) -> SampleSet: ...

    def real_share(self) -> float: ...

    @staticmethod
    def concat(parts: list) -> SampleSet: ...


@dataclass(frozen=True)
class RealData:
    """The real world of a run: the training pool, the fixed test set, the truth.

    ``draw(n, rng)`` returns ``n`` new real samples per replicate (the ``fresh``
    mixing policy uses it); ``truth`` is the data-generating model where the
    family has one, so metrics can compare against it in closed form.
    """

    train: Samples
    test: Samples | None
    truth: Any
    draw: Callable[[int, np.random.Generator], Samples]


class Source(Protocol):
    """Real data."""

    family: str

    def load(self, rng: np.random.Generator) -> RealData: ...


class Trainer(Protocol):
    """Fits a model to one generation's data."""

    family: str

    def fit(self, data: SampleSet, *, init: Any, rng: np.random.Generator, generation: int) -> Any: ...


class Generator(Protocol):
    """Produces synthetic samples from a trained model (``real`` for generators that label real inputs)."""

    def generate(
        self, model: Any, data: SampleSet, generation: int, rng: np.random.Generator, *, real: RealData
    ) -> SampleSet: ...


class Mixing(Protocol):
    """Combines real and synthetic data into the next generation's training set.

    ``history_window`` is how many of the latest synthetic sets the policy
    reads (``None`` = all), so the loop keeps and checkpoints no more.
    """

    history_window: int | None

    def mix(
        self,
        real: RealData,
        synthetic: Samples,
        history: list[Samples],
        rng: np.random.Generator,
    ) -> Samples: ...


class Metric(Protocol):
    """Measures one generation; returns variables without the generation dim."""

    families: tuple[str, ...]

    def measure(self, model: Any, data: Samples, real: RealData) -> xr.Dataset: ...
