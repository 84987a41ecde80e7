"""The typed schema of the top-level settings and the checks run before any work."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from omegaconf import MISSING, DictConfig, MissingMandatoryValue, OmegaConf

from collapse_sim.components import ROLES
from collapse_sim.config_tree import COMPONENT_GROUPS
from collapse_sim.errors import ConfigError, did_you_mean
from collapse_sim.settings import check_component


def _config_dir() -> str:
    # A wheel ships conf/ inside the package (collapse_sim/conf); a checkout keeps it beside the package.
    package = Path(__file__).resolve().parent
    inside = package / "conf"
    return str(inside if (inside / "config.yaml").is_file() else package.parent / "conf")


CONFIG_DIR = _config_dir()  # the package's own configs; users add theirs with --config-dir


@dataclass
class SimulationConfig:
    """Top-level settings; a YAML option that misspells one of these fails at composition."""

    name: str = "default"
    generations: int = 10
    n_samples: int = 100
    replicates: int = 2
    workers: Any = "auto"  # chains side by side: "auto" or an integer >= 1
    seed: int = 0
    warm_start: bool = False
    lineages: int = 1  # lineages a chain, each training on its share of the chain's one pool
    plots: bool = True
    store_url: Optional[str] = None  # noqa: UP045 (OmegaConf reads the annotation)
    store_flush_s: float = 2.0  # toy runs write held generations at most this often (0: each at once)
    source: Any = MISSING
    generator: Any = MISSING
    mixing: Any = MISSING
    trainer: Any = MISSING
    metrics: Any = field(default_factory=dict)
    logger: Any = field(default_factory=dict)  # experiment trackers by name (conf/logger/)
    reward: Any = field(default_factory=dict)  # a reward that curates synthetic data (conf/reward/); none
    warning: Any = field(default_factory=dict)  # the variable watched, the drop tolerated, the confidence


def check_warning(warning: dict) -> None:
    """The ``warning`` block: a variable's name, a drop >= 0 and a confidence in (0, 1)."""
    unknown = set(warning) - {"variable", "drop", "confidence"}
    if unknown:
        raise ConfigError(
            "warning", f"takes variable, drop and confidence; {', '.join(sorted(unknown))} is not one"
        )
    variable, drop, level = (
        warning.get("variable", ""),
        warning.get("drop", 0.0),
        warning.get("confidence", 0.5),
    )
    if not (isinstance(variable, str) and variable):
        raise ConfigError("warning.variable", f"must name a variable the run records, got {variable!r}")
    if isinstance(drop, bool) or not isinstance(drop, int | float) or not drop >= 0:
        raise ConfigError("warning.drop", f"must be a number >= 0 (the fall tolerated), got {drop!r}")
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
        raise ConfigError("warning.confidence", f"must be between 0 and 1 (0.95: 95 %), got {level!r}")


def option_dirs(searchpath: Sequence[str] = ()) -> list[Path]:
    """The package's config folder and every ``file://`` or ``pkg://`` folder of a ``hydra.searchpath``."""
    dirs = [Path(CONFIG_DIR)]
    for entry in (str(e).strip() for e in searchpath or ()):
        if entry.startswith("file://"):
            dirs.append(Path(entry.removeprefix("file://")))
        elif entry.startswith("pkg://"):
            spec = importlib.util.find_spec(entry.removeprefix("pkg://").replace("/", "."))
            dirs += [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    return dirs


def register_schema() -> None:
    """Make the schema available to ``conf/config.yaml``'s defaults list."""
    from hydra.core.config_store import ConfigStore  # here: readers of this module never load Hydra

    ConfigStore.instance().store(name="simulation_schema", node=SimulationConfig)


TOP_LEVEL = tuple(f.name for f in dataclasses.fields(SimulationConfig))
MINIMUM = {"generations": 1, "n_samples": 1, "replicates": 1, "seed": 0}


def validate(cfg: DictConfig) -> dict:
    """Check the composed configuration; return it resolved as plain containers."""
    unknown = [k for k in cfg if k not in TOP_LEVEL and k != "hydra"]
    if unknown:
        raise ConfigError(
            unknown[0],
            f"is not a collapse_sim setting; valid top-level settings: {', '.join(TOP_LEVEL)}"
            + did_you_mean(unknown[0], TOP_LEVEL),
        )
    if "hydra" in cfg:
        cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    try:
        resolved = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as error:
        key = error.full_key or "config"
        raise ConfigError(key, f"is required and has no default; set it, e.g. {key}=...") from None
    except Exception as error:
        raise ConfigError(getattr(error, "full_key", "") or "config", str(error).splitlines()[0]) from None
    for key, minimum in MINIMUM.items():
        if resolved[key] < minimum:
            raise ConfigError(key, f"must be an integer >= {minimum}, got {resolved[key]!r}")
    workers = resolved["workers"]
    if workers != "auto" and not (
        isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1
    ):
        raise ConfigError(
            "workers",
            f"must be auto (one chain per free core) or an integer >= 1 (chains run side by side), "
            f"got {workers!r}",
        )
    flush = resolved["store_flush_s"]
    if isinstance(flush, bool) or not isinstance(flush, int | float) or not flush >= 0:
        raise ConfigError(
            "store_flush_s",
            "must be a number of seconds >= 0: how long a toy run may hold finished generations before it "
            f"writes them (0 writes each at once; a kill loses at most that much work), got {flush!r}",
        )
    check_warning(resolved.get("warning") or {})
    if resolved.get("store_url") is not None:
        from collapse_sim.locations import check_store_url

        check_store_url(resolved["store_url"])
    for group in COMPONENT_GROUPS:
        check_component(group, resolved[group], ROLES[group])
    if not isinstance(resolved["metrics"], dict) or not resolved["metrics"]:
        raise ConfigError("metrics", "must map metric names to components with a _target_")
    for name, node in resolved["metrics"].items():
        check_component(f"metrics.{name}", node, ROLES["metrics"])
    if resolved.get("logger") is None:
        resolved["logger"] = {}
    if not isinstance(resolved["logger"], dict):
        raise ConfigError(
            "logger", "must map tracker names to components; choose logger=mlflow, tensorboard or none"
        )
    for name, node in resolved["logger"].items():
        check_component(f"logger.{name}", node, ROLES["logger"])
    resolved["reward"] = resolved.get("reward") or None  # reward=none: no curation
    if resolved["reward"] is not None:
        check_component("reward", resolved["reward"], ROLES["reward"])
    return resolved
