"""The one place that turns a validated configuration into components."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate

from collapse_sim.capacity import ChainPlan, plan_chains
from collapse_sim.errors import ConfigError
from collapse_sim.protocols import (
    ClassCount,
    FamilyRestricted,
    FinitePool,
    FitsImageSize,
    ModelFileTrainer,
    RealPoolLabeller,
    SamplingGenerator,
    SamplingModel,
    SceneLawGenerator,
    SceneLawSource,
    SquareImages,
    UsesRealData,
    UsesWorkdir,
)


@dataclass(frozen=True)
class Simulation:
    """Everything the loop needs: components and the top-level settings."""

    source: Any
    generator: Any
    mixing: Any
    trainer: Any
    metrics: dict[str, Any]
    generations: int
    n_samples: int
    seed: int
    warm_start: bool
    chains: ChainPlan
    loggers: dict[str, Any] = field(default_factory=dict)


def _make(key: str, node: dict) -> Any:
    try:
        return instantiate(node, _convert_="all")
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, ConfigError):
            raise cause.prefixed(key) from None
        raise ConfigError(key, f"could not be built: {cause or error}") from None


def _check_compatible(sim: Simulation, choices: dict[str, str]) -> None:
    pool = sim.source.pool_size if isinstance(sim.source, FinitePool) else None
    if pool is not None and pool < sim.n_samples:
        raise ConfigError(
            "source.pool_size",
            f"holds {pool} real samples per replicate but generation 0 trains on n_samples={sim.n_samples}; "
            "raise source.pool_size or lower n_samples",
        )
    family = sim.source.family
    if sim.trainer.family != family:
        raise ConfigError(
            "trainer",
            f"trainer={choices.get('trainer')} fits {sim.trainer.family} data but "
            f"source={choices.get('source')} gives {family} data; pick a trainer for {family} data",
        )
    for name, metric in sim.metrics.items():
        if family not in metric.families:
            raise ConfigError(
                f"metrics.{name}",
                f"measures {'/'.join(metric.families)} models but source={choices.get('source')} "
                f"gives {family} data; pick metrics={family if family != 'categorical' else 'classes'}",
            )
    mixing_families = sim.mixing.families if isinstance(sim.mixing, FamilyRestricted) else (family,)
    if family not in mixing_families:
        raise ConfigError(
            "mixing",
            f"mixing={choices.get('mixing')} needs {'/'.join(mixing_families)} data "
            f"(it checks labels against the true objects) but source={choices.get('source')} "
            f"gives {family} data",
        )
    _check_detection(sim, choices)
    _check_model_classes(sim)
    model_type = sim.trainer.model_type
    supported = model_type.sampling_options if isinstance(model_type, SamplingModel) else ()
    requested = sim.generator.requested_options if isinstance(sim.generator, SamplingGenerator) else ()
    for option in requested:
        if option not in supported:
            raise ConfigError(
                f"generator.{option}",
                f"does not apply to {sim.trainer.model_type.__name__}; it supports: "
                f"{', '.join(supported) or 'no sampling options'}",
            )


def _check_detection(sim: Simulation, choices: dict[str, str]) -> None:
    needs_law = isinstance(sim.generator, SceneLawGenerator) and sim.generator.needs_scene_law
    if needs_law and not (isinstance(sim.source, SceneLawSource) and sim.source.has_scene_law):
        raise ConfigError(
            "generator",
            f"generator={choices.get('generator')} renders the procedural shapes of source=shapes "
            f"and cannot draw the classes of source={choices.get('source')}; use generator=pseudo_label",
        )
    if isinstance(sim.generator, FitsImageSize) and isinstance(sim.source, SquareImages):
        sim.generator.check_image_size(sim.source.image_size)
    labelled = isinstance(sim.generator, RealPoolLabeller) and sim.generator.labels_real_pool
    pool = sim.source.pool_size if isinstance(sim.source, FinitePool) else None
    if labelled and pool is not None and sim.generator.n > pool:
        raise ConfigError(
            "generator.n",
            f"asks to label {sim.generator.n} real images per generation but source.pool_size is {pool}; "
            "raise source.pool_size or lower generator.n",
        )


def _check_model_classes(sim: Simulation) -> None:
    """A local ``.pt`` must predict as many classes as the data has (its head is not silently replaced)."""
    if not (isinstance(sim.trainer, ModelFileTrainer) and isinstance(sim.source, ClassCount)):
        return
    model, classes = sim.trainer.model, sim.source.n_classes
    if sim.source.family != "detection" or not isinstance(model, str) or not model.endswith(".pt"):
        return
    from collapse_sim.yolo.network import checkpoint_classes

    try:
        found = checkpoint_classes(model)
    except ConfigError as error:
        raise error.prefixed("trainer") from None
    if found != classes:
        raise ConfigError(
            "trainer.model",
            f"{model} predicts {found} classes but the data has {classes}; give a checkpoint trained on "
            f"these {classes} classes, or the model's YAML (e.g. yolo26n.yaml) to train from scratch",
        )


def attach_workdir(sim: Simulation, workdir) -> None:
    """Give components that keep files (YOLO dataset folders, weights) the run directory."""
    for component in (sim.source, sim.generator, sim.mixing, sim.trainer, *sim.metrics.values()):
        if isinstance(component, UsesWorkdir):
            component.use_workdir(workdir)


def attach_real(sim: Simulation, real) -> None:
    """Give components that score against the fixed real data during training (``use_real``) that data."""
    for component in (sim.generator, sim.mixing, sim.trainer):
        if isinstance(component, UsesRealData):
            component.use_real(real)


def build(resolved: dict, choices: dict[str, str] | None = None) -> Simulation:
    """Instantiate every component of a validated, resolved configuration, and plan its chains."""
    parts = {group: _make(group, resolved[group]) for group in ("source", "generator", "mixing", "trainer")}
    sim = Simulation(
        **parts,
        metrics={k: _make(f"metrics.{k}", v) for k, v in resolved["metrics"].items()},
        generations=resolved["generations"],
        n_samples=resolved["n_samples"],
        seed=resolved["seed"],
        warm_start=resolved["warm_start"],
        chains=plan_chains(parts["source"], parts["trainer"], parts["mixing"], resolved),
        loggers={k: _make(f"logger.{k}", v) for k, v in (resolved.get("logger") or {}).items()},
    )
    _check_compatible(sim, choices or {})
    return sim
