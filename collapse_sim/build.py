"""The one place that turns a validated configuration into components, and checks that they fit together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from collapse_sim.capacity import plan_chains
from collapse_sim.components import RUN_ABILITIES
from collapse_sim.config import CONFIG_DIR
from collapse_sim.config_tree import COMPONENT_GROUPS, GROUPS
from collapse_sim.errors import ConfigError
from collapse_sim.settings import import_target
from collapse_sim.simulation import Simulation


def _make(key: str, node: dict) -> Any:
    try:
        return instantiate(node, _convert_="all")
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, ConfigError):
            raise cause.prefixed(key) from None
        raise ConfigError(key, f"could not be built: {cause or error}") from None


def providers(ability: str, option_dirs: list[Path]) -> dict[str, list[str]]:
    """The options, by group, whose component declares it provides ``ability``."""
    found: dict[str, list[str]] = {}
    for group in GROUPS:
        for path in sorted({p for d in option_dirs for p in Path(d).glob(f"{group}/*.yaml")}):
            try:
                target = (yaml.safe_load(path.read_text()) or {}).get("_target_")
                offered = import_target(group, target).provides
            except (ConfigError, yaml.YAMLError, AttributeError, OSError):
                continue  # an option that cannot be read here provides nothing
            if ability in offered and path.stem not in found.get(group, []):
                found.setdefault(group, []).append(path.stem)
    return found


def _label(key: str, choices: dict[str, str]) -> str:
    return f"{key}={choices[key]}" if key in choices else key


def check_abilities(sim: Simulation, option_dirs: list[Path]) -> None:
    """The one rule: every ability a component needs is provided by another chosen component or the run."""
    chosen = list(sim.components())
    for key, component in chosen:
        offered = RUN_ABILITIES.union(*(c.provides for k, c in chosen if k != key))
        missing = sorted(component.needs - offered)
        if not missing:
            continue
        ability = missing[0]
        where = providers(ability, option_dirs)
        instead = ", ".join(_label(group, sim.choices) for group in where) or "none of the chosen components"
        subject = f"{key}={sim.choices[key]} needs" if key in sim.choices else "needs"
        options = "; ".join(f"{group}={', '.join(names)}" for group, names in where.items())
        raise ConfigError(
            key,
            f"{subject} {ability}, which {instead} does not provide; "
            + (
                f"options that provide it: {options}"
                if options
                else "no option in any config group provides it"
            ),
        )


def build(
    resolved: dict, choices: dict[str, str] | None = None, *, option_dirs: list[Path] | None = None
) -> Simulation:
    """Instantiate every component of a validated, resolved configuration, check them, and plan chains.

    ``option_dirs`` are the config folders searched (the package's and the
    user's), where an unmet need looks for the options that would meet it.
    """
    parts = {group: _make(group, resolved[group]) for group in COMPONENT_GROUPS}
    metrics = {k: _make(f"metrics.{k}", v) for k, v in resolved["metrics"].items()}
    if resolved.get("reward"):  # curation: the reward chooses among the generator's samples, and is measured
        from collapse_sim.rewards import CuratedGenerator

        if "reward" in metrics:
            raise ConfigError("metrics.reward", "is the reward's own name; name this metric otherwise")
        metrics["reward"] = _make("reward", resolved["reward"])
        parts["generator"] = CuratedGenerator(parts["generator"], metrics["reward"])
    if resolved.get("lineages", 1) != 1:  # an ecosystem: K lineages a chain share one pool
        from collapse_sim.lineages import with_lineages

        parts, metrics = with_lineages(parts, metrics, resolved["lineages"], resolved["n_samples"])
    sim = Simulation(
        **parts,
        metrics=metrics,
        generations=resolved["generations"],
        n_samples=resolved["n_samples"],
        seed=resolved["seed"],
        warm_start=resolved["warm_start"],
        chains=plan_chains(parts["source"], parts["trainer"], parts["generator"], parts["mixing"], resolved),
        choices={k: v for k, v in (choices or {}).items() if k in COMPONENT_GROUPS},
    )
    if sim.source.pool_size < sim.n_samples:
        raise ConfigError(
            "source.pool_size",
            f"holds {sim.source.pool_size} real samples per replicate but generation 0 trains on "
            f"n_samples={sim.n_samples}; {sim.source.pool_hint}",
        )
    check_abilities(sim, option_dirs or [Path(CONFIG_DIR)])
    for _, component in sim.components():
        component.check(sim)
    return sim


def build_loggers(resolved: dict) -> dict[str, Any]:
    """The chosen experiment trackers, by name (driven by the run's one writer, never by a chain)."""
    return {k: _make(f"logger.{k}", v) for k, v in (resolved.get("logger") or {}).items()}
