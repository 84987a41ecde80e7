"""The small interfaces components satisfy; plain classes fit them structurally."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

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
    """Fits a model to one generation's data; ``model_type`` is the class of what ``fit`` returns."""

    family: str
    model_type: type

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


# Optional abilities. A component declares one by having its attribute or method;
# build.py and the loop test for them with isinstance, nothing else probes components.


@runtime_checkable
class UsesWorkdir(Protocol):
    """A component that keeps files (dataset folders, weights) is given the run directory."""

    def use_workdir(self, path: Path) -> None: ...


@runtime_checkable
class UsesRealData(Protocol):
    """A generator, mixing policy or trainer that needs the real data (a test set to score on, say)."""

    def use_real(self, real: RealData) -> None: ...


@runtime_checkable
class FinitePool(Protocol):
    """A source whose real pool holds ``pool_size`` samples per replicate (checked against n_samples)."""

    pool_size: int


@runtime_checkable
class ClassCount(Protocol):
    """A source that knows its number of classes before loading (build checks a ``.pt`` model's head)."""

    n_classes: int


@runtime_checkable
class SceneLawSource(Protocol):
    """A detection source whose ``RealData.truth.law`` is a scene law that can render new scenes."""

    has_scene_law: bool


@runtime_checkable
class SceneLawGenerator(Protocol):
    """A generator that renders with the real world's scene law; it needs a ``SceneLawSource``."""

    needs_scene_law: bool


@runtime_checkable
class SquareImages(Protocol):
    """A source of square images ``image_size`` pixels a side."""

    image_size: int


@runtime_checkable
class FitsImageSize(Protocol):
    """A generator whose settings must fit the source's images (sprites no larger than an object)."""

    def check_image_size(self, image_size: int) -> None: ...


@runtime_checkable
class RealPoolLabeller(Protocol):
    """A generator that labels ``n`` images drawn from the real pool each generation."""

    labels_real_pool: bool
    n: int


@runtime_checkable
class SamplingGenerator(Protocol):
    """A generator with sampling options (temperature, top-k, top-p) set away from neutral.

    Build checks each against the ``sampling_options`` of the trainer's ``model_type``.
    """

    requested_options: tuple[str, ...]


@runtime_checkable
class SamplingModel(Protocol):
    """A model type that declares which sampling options it honours."""

    sampling_options: tuple[str, ...]


@runtime_checkable
class FamilyRestricted(Protocol):
    """A mixing policy that works only for some data families (``verified`` checks detection labels)."""

    families: tuple[str, ...]


@runtime_checkable
class ModelFileTrainer(Protocol):
    """A trainer that starts from a model file or name (``trainer.model``: a YAML or a local ``.pt``)."""

    model: str


@runtime_checkable
class DeviceTrainer(Protocol):
    """A trainer that runs on a device (``cpu``, ``cuda:0``); recorded in the store's attrs."""

    device: str


@runtime_checkable
class VectorisedSource(Protocol):
    """A source that draws ``replicates`` independent chains at once (the toy families).

    Its run is one loop over arrays with a leading replicate axis; any other
    source's run is ``replicates`` separate chains, run side by side.
    """

    replicates: int


@runtime_checkable
class ThreadedTrainer(Protocol):
    """A trainer whose CPU results depend on its torch thread count, fixed by ``threads``.

    Chains use exactly this many threads whatever ``workers`` is, so results do
    not depend on how many chains run at once.
    """

    threads: int


@runtime_checkable
class ReportsEpochs(Protocol):
    """A trainer that reports progress inside a generation: ``callback(epoch, epochs)`` after each epoch."""

    def use_progress(self, callback: Callable[[int, int], None]) -> None: ...
