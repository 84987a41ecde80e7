"""The roles components play, what they declare, and what the run hands them.

Plain classes fit a role structurally. Besides its one or two methods, a
component declares as data on its class what it ``provides`` and what it
``needs``: ability names such as ``"detection data"``, ``"scene law"`` or
``"run folder"``. ``build`` checks a simulation with one rule (every need is
provided by another chosen component or by the run) and one message shape.
The run provides ``RUN_ABILITIES``; a component that needs any of them is
handed one ``RunContext`` through ``setup(context)`` before its chain starts.
A component whose settings must agree with another's (a pool large enough to
label ``n`` images, say) checks them in ``check(sim)``, called once at build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import xarray as xr

# What the run itself provides: the chain's folder for files, the real data once
# loaded, a callback for progress inside a generation, the chain's index.
RUN_ABILITIES = frozenset({"run folder", "real data", "epoch progress"})


def data_of(family: str) -> frozenset[str]:
    """The ability a source provides and its trainer and metrics need: ``"<family> data"``."""
    return frozenset({f"{family} data"})


def sampling(*options: str) -> frozenset[str]:
    """The abilities of a trainer whose models honour these sampling options (``temperature``, ...)."""
    return frozenset(f"sampling option {option}" for option in options)


def provides(component: Any) -> frozenset[str]:
    """What a component declares it provides (nothing when it declares nothing)."""
    return frozenset(getattr(component, "provides", ()))


def needs(component: Any) -> frozenset[str]:
    """What a component declares it needs (nothing when it declares nothing)."""
    return frozenset(getattr(component, "needs", ()))


@runtime_checkable
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

    train: SampleSet
    test: SampleSet | None
    truth: Any
    draw: Callable[[int, np.random.Generator], SampleSet]


@dataclass(frozen=True)
class RunContext:
    """What a chain's run hands the components that need it, once, before the chain's first generation.

    ``folder`` is the chain's own folder (``chain_RR/``, or the run directory
    for a vectorised run); ``progress(epoch, epochs)`` reports progress inside
    the current generation; ``real`` is the run's real data.
    """

    folder: Path
    chain: int
    real: RealData | None = None
    progress: Callable[[int, int], None] = lambda epoch, epochs: None


@runtime_checkable
class Source(Protocol):
    """Real data. ``pool_size``: real training samples per replicate (checked against ``n_samples``)."""

    pool_size: int

    def load(self, rng: np.random.Generator) -> RealData: ...


@runtime_checkable
class Trainer(Protocol):
    """Fits a model to one generation's data.

    ``device`` is where it trains (recorded in the store); ``threads`` its CPU
    thread count, which chains keep whatever ``workers`` is.
    """

    device: str
    threads: int

    def fit(self, data: SampleSet, *, init: Any, rng: np.random.Generator, generation: int) -> Any: ...


@runtime_checkable
class Generator(Protocol):
    """Produces synthetic samples from a trained model (``real`` for generators that label real inputs)."""

    def generate(
        self, model: Any, data: SampleSet, generation: int, rng: np.random.Generator, *, real: RealData
    ) -> SampleSet: ...


@runtime_checkable
class Mixing(Protocol):
    """Combines real and synthetic data into the next generation's training set.

    ``history_window`` is how many of the latest synthetic sets the policy
    reads (``None`` = all), so the loop keeps and checkpoints no more.
    """

    history_window: int | None

    def mix(
        self, real: RealData, synthetic: SampleSet, history: list[SampleSet], rng: np.random.Generator
    ) -> SampleSet: ...


@runtime_checkable
class Metric(Protocol):
    """Measures one generation; returns variables without the generation dim."""

    def measure(self, model: Any, data: SampleSet, real: RealData) -> xr.Dataset: ...


@runtime_checkable
class UsesRun(Protocol):
    """A component that needs one of ``RUN_ABILITIES``: it is handed the chain's context before it starts."""

    def setup(self, context: RunContext) -> None: ...


@runtime_checkable
class ChecksSimulation(Protocol):
    """A component whose settings must agree with another component's; raises a ConfigError if not."""

    def check(self, sim: Any) -> None: ...


ROLES = {"source": Source, "generator": Generator, "mixing": Mixing, "trainer": Trainer}
