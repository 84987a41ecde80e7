"""The typed schema of the top-level settings and the checks run before any work."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import json
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, MissingMandatoryValue, OmegaConf

from collapse_sim.errors import ConfigError


def _config_dir() -> str:
    # A wheel ships conf/ inside the package (collapse_sim/conf); a checkout keeps it beside the package.
    package = Path(__file__).resolve().parent
    inside = package / "conf"
    return str(inside if (inside / "config.yaml").is_file() else package.parent / "conf")


CONFIG_DIR = _config_dir()  # the package's own configs; users add theirs with --config-dir
COMPONENT_GROUPS = ("source", "generator", "mixing", "trainer")
GROUPS = COMPONENT_GROUPS + ("metrics", "logger")


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
    plots: bool = True
    store_url: Optional[str] = None  # noqa: UP045 (OmegaConf reads the annotation)
    source: Any = MISSING
    generator: Any = MISSING
    mixing: Any = MISSING
    trainer: Any = MISSING
    metrics: Any = field(default_factory=dict)
    logger: Any = field(default_factory=dict)  # experiment trackers by name (conf/logger/)


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
    ConfigStore.instance().store(name="simulation_schema", node=SimulationConfig)


TOP_LEVEL = tuple(f.name for f in dataclasses.fields(SimulationConfig))
MINIMUM = {"generations": 1, "n_samples": 1, "replicates": 1, "seed": 0}


def flatten_config(tree: Any, prefix: str = "") -> dict[str, Any]:
    """A nested configuration as ``{"mixing.real_fraction": 0.2, ...}``: dotted keys, leaf values."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flatten_config(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): tree}


def config_differences(stored: dict, current: dict) -> list[str]:
    """Dotted keys whose values differ between two configuration trees."""
    a, b = flatten_config(stored), flatten_config(current)
    return sorted(k for k in a.keys() | b.keys() if json.dumps(a.get(k)) != json.dumps(b.get(k)))


def import_target(key: str, target: Any) -> type:
    """The class a ``_target_`` names, or a ConfigError saying why it cannot be used."""
    if not isinstance(target, str) or "." not in target:
        raise ConfigError(key, f"must be a dotted import path such as 'package.module.Class', got {target!r}")
    module_name, _, attr = target.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise ConfigError(key, f"cannot import {target!r} ({error})") from None


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple, Sequence, typing.Sequence) or hint in (list, tuple):
        args = typing.get_args(hint)
        inner = args[0] if args else Any
        return isinstance(value, list | tuple) and all(_matches(v, inner) for v in value)
    return True


def accepted_settings(cls: type) -> tuple[dict[str, inspect.Parameter], dict[str, Any], bool]:
    """The settings a class's constructor accepts, following ``**kwargs`` up to the parents it passes them to.

    Returns the parameters, their type hints, and whether any setting at all is
    accepted (a ``**kwargs`` that reaches no parent's constructor takes anything).
    """
    params: dict[str, inspect.Parameter] = {}
    hints: dict[str, Any] = {}
    passes_on = False  # the last constructor read takes **kwargs
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if klass is object:  # no constructor at all takes nothing; **kwargs that end here take anything
            return params, hints, passes_on
        signature = inspect.signature(init).parameters
        try:
            found = typing.get_type_hints(init)
        except Exception:  # a user's class may annotate with names we cannot resolve; skip type checks
            found = {}
        for name, param in signature.items():
            if name != "self" and param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                params.setdefault(name, param)
                if name in found:
                    hints.setdefault(name, found[name])
        passes_on = any(param.kind == param.VAR_KEYWORD for param in signature.values())
        if not passes_on:
            return params, hints, False
    return params, hints, passes_on


def check_component(key: str, node: dict) -> type:
    """Check a component node's ``_target_`` and that every setting is one it accepts, typed right."""
    if not isinstance(node, dict) or "_target_" not in node:
        raise ConfigError(key, f"must be a component with a _target_, got {node!r}")
    cls = import_target(f"{key}._target_", node["_target_"])
    params, hints, open_ended = accepted_settings(cls)
    for name, value in node.items():
        if name.startswith("_"):
            continue
        if name not in params and not open_ended:
            valid = ", ".join(params) or "(none)"
            raise ConfigError(
                f"{key}.{name}", f"is not a setting of {node['_target_']}; valid settings: {valid}"
            )
        if not _matches(value, hints.get(name, Any)):
            raise ConfigError(
                f"{key}.{name}",
                f"must be {_describe(hints[name])}, got {value!r} ({type(value).__name__})",
            )
    # Only the class's own required settings: a subclass may fill in its parents' itself.
    own = inspect.signature(cls.__init__).parameters
    missing = [
        p
        for p, param in own.items()
        if p != "self"
        and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
        and param.default is param.empty
        and p not in node
    ]
    if missing:
        raise ConfigError(f"{key}.{missing[0]}", f"is required by {node['_target_']} and not set")
    return cls


def validate(cfg: DictConfig) -> dict:
    """Check the composed configuration; return it resolved as plain containers."""
    unknown = [k for k in cfg if k not in TOP_LEVEL and k != "hydra"]
    if unknown:
        raise ConfigError(
            unknown[0],
            f"is not a collapse_sim setting; valid top-level settings: {', '.join(TOP_LEVEL)}",
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
    if resolved.get("store_url") is not None:
        from collapse_sim.locations import check_store_url

        check_store_url(resolved["store_url"])
    for group in COMPONENT_GROUPS:
        check_component(group, resolved[group])
    if not isinstance(resolved["metrics"], dict) or not resolved["metrics"]:
        raise ConfigError("metrics", "must map metric names to components with a _target_")
    for name, node in resolved["metrics"].items():
        check_component(f"metrics.{name}", node)
    if resolved.get("logger") is None:
        resolved["logger"] = {}
    if not isinstance(resolved["logger"], dict):
        raise ConfigError(
            "logger", "must map tracker names to components; choose logger=mlflow, tensorboard or none"
        )
    for name, node in resolved["logger"].items():
        check_component(f"logger.{name}", node)
    return resolved
