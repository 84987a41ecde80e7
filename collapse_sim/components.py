"""The roles components play: one base class each, holding every optional declaration and hook's default.

A component subclasses the base of its role (``Source``, ``Trainer``,
``Generator``, ``Mixing``, ``Metric``; ``Tracker`` for experiment trackers)
and overrides what it needs, as xarray's ``BackendEntrypoint`` does for
backends. Besides its one or two methods, a component declares as data on its
class what it ``provides`` and what it ``needs``: ability names such as
``"detection data"``, ``"scene law"`` or ``"run folder"``. ``build`` checks a
simulation with one rule (every need is provided by another chosen component
or by the run) and one message shape. The run provides ``RUN_ABILITIES``; every
component is handed one ``RunContext`` through ``setup(context)`` before its
chain starts. A component whose settings must agree with another's (a pool
large enough to label ``n`` images, say) checks them in ``check(sim)``.

The defaults live here and nowhere else: no other module asks a component
whether it has an attribute (``tests/test_declarations.py`` scans the package).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

if TYPE_CHECKING:  # annotations only: importing xarray here would slow every component's import
    import xarray as xr

# What the run itself provides: the chain's folder for files, the real data once
# loaded, a callback for progress inside a generation, the chain's index.
RUN_ABILITIES = frozenset({"run folder", "real data", "epoch progress"})

# A chain process's peak memory apart from its data when its trainer does not say (YOLO26n at
# imgsz 64: 0.9-1.1 GB measured).
CHAIN_BASE_BYTES = 1.2e9


def data_of(family: str) -> frozenset[str]:
    """The ability a source provides and its trainer and metrics need: ``"<family> data"``."""
    return frozenset({f"{family} data"})


def sampling(*options: str) -> frozenset[str]:
    """The abilities of a trainer whose models honour these sampling options (``temperature``, ...)."""
    return frozenset(f"sampling option {option}" for option in options)


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

    def take(self, index: np.ndarray) -> SampleSet: ...  # ``(replicate, k)`` positions, per replicate

    def real_share(self) -> float: ...

    @staticmethod
    def concat(parts: list) -> SampleSet: ...


@dataclass(frozen=True)
class RealData:
    """The real world of a run: the training pool, the fixed test set, the truth.

    ``draw(n, rng)`` returns ``n`` new real samples per replicate (the ``fresh``
    mixing policy uses it); ``truth`` is the data-generating model where the
    family has one, so metrics can compare against it in closed form.
    ``unlabelled`` is a pool of real inputs without labels, where the source
    has one (a generator that labels inputs draws from it instead of ``train``).
    """

    train: SampleSet
    test: SampleSet | None
    truth: Any
    draw: Callable[[int, np.random.Generator], SampleSet]
    unlabelled: SampleSet | None = None


@dataclass(frozen=True)
class RunContext:
    """What a chain's run hands every component, once, before the chain's first generation.

    ``folder`` is the chain's own folder (``chain_RR/``, or the run directory
    for a vectorised run); ``run_dir`` the folder every chain of the run
    shares (what is made once per run lives there); ``progress(epoch, epochs)``
    reports progress inside the current generation; ``real`` is the run's real
    data.
    """

    folder: Path
    chain: int
    real: RealData | None = None
    progress: Callable[[int, int], None] = lambda epoch, epochs: None
    run_dir: Path | None = None


class Component:
    """What every component may declare, with its default: abilities, and the two optional hooks."""

    provides: ClassVar[frozenset[str]] = frozenset()  # abilities it offers the other components
    needs: frozenset[str] = frozenset()  # abilities it relies on (an instance may add to its class's)

    def setup(self, context: RunContext) -> None:
        """Take what the run provides (folder, real data, progress) before the chain starts; default:
        nothing to take."""

    def check(self, sim: Any) -> None:
        """Raise a ConfigError if this component's settings disagree with another's; default: none can."""


class Source(Component):
    """Real data. ``pool_size``: real training samples per replicate (checked against ``n_samples``).

    ``test_size`` (fixed real test samples) and ``sample_bytes`` (memory of one
    sample) size a chain's memory before any work.
    """

    pool_size: int
    test_size: int = 0
    unlabelled_size: int = 0  # inputs without labels (``RealData.unlabelled``), where the source has them
    pool_hint: str = "raise source.pool_size or lower n_samples"  # what to do when the pool is too small
    sample_bytes: float = 64 * 64 * 3  # unknown: counted as a small RGB image

    def load(self, rng: np.random.Generator) -> RealData:
        """The training pool, the test set and the truth, drawn once per run."""
        raise NotImplementedError(f"{type(self).__name__} must define load(rng)")


class Trainer(Component):
    """Fits a model to one generation's data.

    ``device`` is where it trains (recorded in the store); ``threads`` its CPU
    thread count, which chains keep whatever ``workers`` is; ``chain_bytes`` a
    chain process's peak memory apart from its data. ``sampling_options`` are
    the options its models honour (read from the model class, the truth): they
    join ``provides`` as ``"sampling option <name>"``.
    """

    device: str = "cpu"
    threads: int = 1
    chain_bytes: float = CHAIN_BASE_BYTES
    sampling_options: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.provides = frozenset(cls.provides) | sampling(*cls.sampling_options)

    def fit(self, data: SampleSet, *, init: Any, rng: np.random.Generator, generation: int) -> Any:
        """The model fitted to ``data`` (continuing ``init`` when the run warm-starts)."""
        raise NotImplementedError(f"{type(self).__name__} must define fit(data, *, init, rng, generation)")

    @classmethod
    def expected_curves(cls, config: dict) -> dict[str, np.ndarray]:
        """Theory curves (expected means over chains, by variable) for a resolved config this trainer
        runs in; default: no closed form is known (``collapse_sim.theory`` holds the known ones)."""
        return {}


class Generator(Component):
    """Produces synthetic samples from a trained model (``real`` for generators that label real inputs).

    ``chain_bytes``: memory it holds in a chain beyond the trainer's (a model of its own).
    ``options``: the sampling options it hands the model (a metric that draws
    from the model draws the same way); none by default.
    ``row_tokens``: how many tokens of one row the model must hold while it
    generates (a prompt and its continuation; 0 for a generator of no text).
    """

    chain_bytes: float = 0.0
    options: Mapping[str, Any] = MappingProxyType({})
    row_tokens: int = 0

    def generate(
        self, model: Any, data: SampleSet, generation: int, rng: np.random.Generator, *, real: RealData
    ) -> SampleSet:
        """New samples made by ``model`` (the model of ``generation``)."""
        raise NotImplementedError(f"{type(self).__name__} must define generate(model, data, generation, rng)")

    def share(self, parts: int) -> Generator | None:
        """This generator making ``1/parts`` as many samples a model (lineages share one pool among ``parts``
        models); default: None, its count is not a setting (a run with lineages keeps the first ``1/parts``
        of each lineage's samples instead)."""
        return None


class Mixing(Component):
    """Combines real and synthetic data into the next generation's training set.

    ``history_window`` is how many of the latest synthetic sets the policy
    reads (``None`` = all), so the loop keeps and checkpoints no more.
    """

    history_window: int | None = 1

    def mix(
        self, real: RealData, synthetic: SampleSet, history: list[SampleSet], rng: np.random.Generator
    ) -> SampleSet:
        """The next generation's training data."""
        raise NotImplementedError(f"{type(self).__name__} must define mix(real, synthetic, history, rng)")


class Metric(Component):
    """Measures one generation; returns variables without the generation dim (``metrics.variable``).

    ``data_only``: its variables are functions of the training data alone (``model`` unused), so a run
    with lineages also measures them on the chain's pool, the union of its lineages' data.
    """

    data_only: bool = False

    def measure(self, model: Any, data: SampleSet, real: RealData) -> xr.Dataset:
        """This generation's variables."""
        raise NotImplementedError(f"{type(self).__name__} must define measure(model, data, real)")


class Reward(Metric):
    """Scores samples, to curate each generation's synthetic data (``reward=``; ``collapse_sim.rewards``).

    Each kept sample is drawn among ``k`` candidates from the model, candidate
    j with probability proportional to exp(r_j / ``beta``) (``beta = 0`` keeps
    the best). As a metric it records ``reward_mean``, the mean reward of each
    generation's training data.
    """

    k: int = 4
    beta: float = 1.0

    def score(self, data: SampleSet) -> np.ndarray:
        """The reward of every sample, ``(replicate, sample)``."""
        raise NotImplementedError(f"{type(self).__name__} must define score(data)")

    def measure(self, model: Any, data: SampleSet, real: RealData) -> xr.Dataset:
        """``reward_mean`` per chain."""
        from collapse_sim.variables import measured, variable

        return measured(
            {
                "reward_mean": variable(
                    ("replicate",),
                    self.score(data).mean(axis=1),
                    units="reward",
                    description="mean reward of the generation's training data",
                    key=8,
                )
            }
        )

    def choose(self, candidates: Any, n: int, rng: np.random.Generator) -> Any:
        """``n`` samples a replicate, each drawn among its ``k`` candidates (``candidates`` holds ``k``
        batches of ``n``, batch after batch) with probability proportional to exp(reward / beta)."""
        logits = self.score(candidates).reshape(candidates.replicates, self.k, n)
        if self.beta > 0:  # Gumbel-max: argmax(logit + Gumbel noise) is an exact softmax draw
            logits = logits / self.beta + rng.gumbel(size=logits.shape)
        else:  # the best candidate, ties broken at random
            best = logits == logits.max(axis=1, keepdims=True)
            logits = np.where(best, rng.random(logits.shape), -1.0)
        chosen = logits.argmax(axis=1)  # (R, n): which batch each slot keeps
        return candidates.take(chosen * n + np.arange(n))


class Tracker:
    """An experiment tracker the run's one writer drives (``logger=``).

    ``start`` once (a resumed run continues the same tracker run), ``log`` each
    generation once every chain has it, ``finish`` with the plots and report.
    ``replays_on_resume``: a tracker that cannot reopen its run (W&B offline)
    is handed every stored generation again when the run resumes.
    """

    replays_on_resume: bool = False

    def check(self, outputs: Path) -> None:
        """Raise ConfigError, before any work, when the tracker could not log this run (``outputs``: the
        folder that holds every run)."""

    def where(self) -> str:
        """Where the run was logged, for the summary's last lines ("" when there is nothing to find)."""
        return ""

    def start(self, run_dir: Path, *, name: str, config: dict, overrides: list[str]) -> None:
        """Open (or reopen) the tracker's run and record the settings."""

    def log(self, generation: int, values: dict[str, float]) -> None:
        """One point per value at step ``generation``."""

    def finish(self, files: list[Path], key: dict[str, float]) -> None:
        """Attach the plots and the report, and close the run; ``key``: the key variables' means at the
        last generation (``mean/<name>``), which a tracker may show as the run's results."""


ROLES: dict[str, type] = {
    "source": Source,
    "generator": Generator,
    "mixing": Mixing,
    "trainer": Trainer,
    "metrics": Metric,
    "logger": Tracker,
    "reward": Reward,
}
"""The base class of each config group's components."""
