"""The families the tests exercise, derived from the config folders and the components' declarations.

A family is one compatible choice of source, generator, trainer and metrics:
every ability a chosen class needs is provided by another chosen class or by
the run, and the choices compose (a YAML may read another group's settings:
``gmm_fit`` reads ``source.n_components``). One family per trainer option, then
one more for each option of the other groups that no family chose yet. Nothing here is a hand-kept list: a new
option is picked up by every test that reads these.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from collapse_sim.components import RUN_ABILITIES
from collapse_sim.settings import import_target

CONF = Path(__file__).resolve().parent.parent / "conf"
FAMILY_GROUPS = ("source", "generator", "trainer", "metrics")


def options(group: str, conf: Path = CONF) -> list[str]:
    """The options of a config group, by name."""
    return sorted(p.stem for p in (conf / group).glob("*.yaml"))


def _nodes(group: str, option: str, conf: Path) -> list[dict]:
    text = yaml.safe_load((conf / group / f"{option}.yaml").read_text()) or {}
    if "_target_" in text:
        return [text]
    return [v for v in text.values() if isinstance(v, dict) and "_target_" in v]  # metrics: by name


@cache
def classes(group: str, option: str, conf: Path = CONF) -> tuple[type, ...]:
    """The component classes an option names (a metrics option may name several; its ``defaults``
    list's options too)."""
    found = [import_target(group, node["_target_"]) for node in _nodes(group, option, conf)]
    text = yaml.safe_load((conf / group / f"{option}.yaml").read_text()) or {}
    for entry in text.get("defaults", []):
        if isinstance(entry, str) and entry != "_self_":
            found += classes(group, entry, conf)
    return tuple(found)


def on_disk(group: str, option: str, conf: Path = CONF) -> bool:
    """An option that reads the user's files: its YAML leaves a value for the user to give (``???``)."""
    return any(value == "???" for node in _nodes(group, option, conf) for value in node.values())


def _needs_met(chosen: dict[str, str], conf: Path) -> bool:
    picked = {group: classes(group, option, conf) for group, option in chosen.items()}
    for group, own in picked.items():
        offered = RUN_ABILITIES.union(*(c.provides for g, cs in picked.items() if g != group for c in cs))
        if not all(c.needs <= offered for c in own):
            return False
    return True


@cache
def _composes(chosen: tuple[tuple[str, str], ...], conf: Path) -> bool:
    """Whether the choices compose and validate (a YAML may read another group's settings)."""
    from collapse_sim.api import compose_config
    from collapse_sim.config import validate
    from collapse_sim.errors import ConfigError

    extra = {} if conf == CONF else {"config_dir": conf}
    try:
        validate(compose_config([f"{g}={o}" for g, o in chosen], **extra))
    except ConfigError:
        return False
    return True


def _complete(partial: dict[str, str], conf: Path) -> dict[str, str] | None:
    """``partial`` filled in with the first options (by name) that make a compatible family."""
    missing = [g for g in FAMILY_GROUPS if g not in partial]
    if not missing:
        return partial if _needs_met(partial, conf) and _composes(tuple(partial.items()), conf) else None
    group, rest = missing[0], missing[1:]
    for option in options(group, conf):
        if group == "source" and on_disk(group, option, conf):
            continue
        trial = {**partial, group: option}
        known = {g: o for g, o in trial.items()}
        if rest and not _needs_met({g: o for g, o in known.items() if g in ("source", "trainer")}, conf):
            continue
        found = _complete(trial, conf)
        if found:
            return found
    return None


@cache
def families(conf: Path = CONF) -> dict[str, dict[str, str]]:
    """Each family by name: ``<trainer option>``, or ``<group>=<option>`` for one added to cover an
    option no trainer's family chose."""
    found = {}
    for trainer in options("trainer", conf):
        family = _complete({"trainer": trainer}, conf)
        assert family, f"trainer={trainer}: no source, generator and metrics options meet its needs"
        found[trainer] = family
    for group in ("source", "generator", "metrics"):
        for option in options(group, conf):
            if any(f[group] == option for f in found.values()) or (
                group == "source" and on_disk(group, option)
            ):
                continue
            family = next(
                (
                    f
                    for t in options("trainer", conf)
                    if (f := _complete({group: option, "trainer": t}, conf))
                ),
                None,
            )
            assert family, f"{group}={option}: no family of the other groups' options meets its needs"
            found[f"{group}={option}"] = family
    return found


def family_data(family: dict[str, str]) -> str:
    """The kind of data a family trains on: the ``"<kind> data"`` its source provides."""
    (data,) = [a for c in classes("source", family["source"]) for a in c.provides if a.endswith(" data")]
    return data.removesuffix(" data")


def overrides(family: dict[str, str]) -> list[str]:
    """A family's choices as command-line overrides."""
    return [f"{group}={option}" for group, option in family.items()]
