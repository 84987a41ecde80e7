"""The one place that turns a validated configuration into components."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate

from collapse_sim.errors import ConfigError


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


def _make(key: str, node: dict) -> Any:
    try:
        return instantiate(node, _convert_="all")
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, ConfigError):
            raise cause.prefixed(key) from None
        raise ConfigError(key, f"could not be built: {cause or error}") from None


def _check_compatible(sim: Simulation, choices: dict[str, str]) -> None:
    pool = getattr(sim.source, "pool_size", None)
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
    mixing_families = getattr(sim.mixing, "families", (family,))
    if family not in mixing_families:
        raise ConfigError(
            "mixing",
            f"mixing={choices.get('mixing')} needs {'/'.join(mixing_families)} data "
            f"(it checks labels against the true objects) but source={choices.get('source')} "
            f"gives {family} data",
        )
    _check_detection(sim, choices)
    _check_model_classes(sim)
    supported = getattr(sim.trainer.model_type, "sampling_options", ())
    for option in getattr(sim.generator, "requested_options", ()):
        if option not in supported:
            raise ConfigError(
                f"generator.{option}",
                f"does not apply to {sim.trainer.model_type.__name__}; it supports: "
                f"{', '.join(supported) or 'no sampling options'}",
            )


def _check_detection(sim: Simulation, choices: dict[str, str]) -> None:
    if getattr(sim.generator, "needs_scene_law", False) and not getattr(sim.source, "has_scene_law", False):
        raise ConfigError(
            "generator",
            f"generator={choices.get('generator')} renders the procedural shapes of source=shapes "
            f"and cannot draw the classes of source={choices.get('source')}; use generator=pseudo_label",
        )
    labelled = getattr(sim.generator, "labels_real_pool", False)
    pool = getattr(sim.source, "pool_size", None)
    if labelled and pool is not None and sim.generator.n > pool:
        raise ConfigError(
            "generator.n",
            f"asks to label {sim.generator.n} real images per generation but source.pool_size is {pool}; "
            "raise source.pool_size or lower generator.n",
        )


def _check_model_classes(sim: Simulation) -> None:
    """A local ``.pt`` must predict as many classes as the data has (its head is not silently replaced)."""
    model, classes = getattr(sim.trainer, "model", None), getattr(sim.source, "n_classes", None)
    if (
        sim.source.family != "detection"
        or not isinstance(model, str)
        or not model.endswith(".pt")
        or not classes
    ):
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
        if hasattr(component, "use_workdir"):
            component.use_workdir(workdir)


def attach_real(sim: Simulation, real) -> None:
    """Give components that score against the fixed real data during training (``use_real``) that data."""
    for component in (sim.generator, sim.mixing, sim.trainer):
        if hasattr(component, "use_real"):
            component.use_real(real)


def build(resolved: dict, choices: dict[str, str] | None = None) -> Simulation:
    """Instantiate every component of a validated, resolved configuration."""
    sim = Simulation(
        source=_make("source", resolved["source"]),
        generator=_make("generator", resolved["generator"]),
        mixing=_make("mixing", resolved["mixing"]),
        trainer=_make("trainer", resolved["trainer"]),
        metrics={k: _make(f"metrics.{k}", v) for k, v in resolved["metrics"].items()},
        generations=resolved["generations"],
        n_samples=resolved["n_samples"],
        seed=resolved["seed"],
        warm_start=resolved["warm_start"],
    )
    _check_compatible(sim, choices or {})
    return sim
