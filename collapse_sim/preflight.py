"""Check every job of a command line before Hydra starts any of them.

Hydra reports composition mistakes tersely and lets ``+key`` typos through;
here each job's configuration is composed, validated and built up front, and
Hydra's own errors are rephrased to name the key and the valid choices.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from collapse_sim.build import build
from collapse_sim.config import GROUPS, TOP_LEVEL, validate
from collapse_sim.errors import ConfigError

PASS_THROUGH_FLAGS = {
    "--help",
    "-h",
    "--hydra-help",
    "--version",
    "--cfg",
    "-c",
    "--info",
    "-i",
    "--shell-completion",
    "-sc",
    "--resolve",
    "--package",
    "-p",
    "--experimental-rerun",
}
# Hydra flags that take a value in the next argument.
VALUED_FLAGS = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd"}
CONFIG_DIR_FLAGS = {"--config-dir", "-cd"}  # a user's own config folder, searched after the package's
SEARCH_PATH = "hydra.searchpath"
# Groups that the defaults list holds as `null`: Hydra rejects `+experiment=x` for
# them ("Multiple values"), yet users write it, so it is read as `experiment=x`.
OPTIONAL_GROUPS = ("experiment", "debug")
MAX_CHECKED_JOBS = 64


def normalize(args: list[str]) -> list[str]:
    """Arguments with ``+experiment=``/``+debug=`` read as ``experiment=``/``debug=``."""
    return [a[1:] if a.startswith("+") and a[1:].split("=")[0] in OPTIONAL_GROUPS else a for a in args]


def _split(args: list[str]) -> tuple[list[str], bool]:
    """The overrides of a command line, with ``--config-dir`` added to the search path as Hydra does."""
    overrides, extra_dirs, pending = [], [], None
    for arg in args:
        if pending is not None:
            if pending in CONFIG_DIR_FLAGS:
                extra_dirs.append(arg)
            pending = None
        elif arg in VALUED_FLAGS:
            pending = arg
        elif "=" in arg and arg.split("=", 1)[0] in CONFIG_DIR_FLAGS:
            extra_dirs.append(arg.split("=", 1)[1])
        elif not arg.startswith("-"):
            overrides.append(arg)
    return with_search_path(overrides, extra_dirs), ("-m" in args or "--multirun" in args)


def with_search_path(overrides: list[str], extra_dirs: list[str]) -> list[str]:
    """``overrides`` with user config folders added to ``hydra.searchpath`` (each must exist)."""
    if not extra_dirs:
        return overrides
    entries = []
    for folder in extra_dirs:
        path = Path(folder).expanduser().resolve()
        if not path.is_dir():
            raise ConfigError(
                "--config-dir",
                f"{folder} is not a folder; give a folder that holds your own config groups "
                "(for example experiment/ and generator/ with one YAML file per option)",
            )
        entries.append(f"file://{path}")
    given = [o.partition("=")[2] for o in overrides if o.partition("=")[0] == SEARCH_PATH]
    entries += [e.strip() for value in given for e in value.strip("[] ").split(",") if e.strip()]
    kept = [o for o in overrides if o.partition("=")[0] != SEARCH_PATH]
    return [f"{SEARCH_PATH}=[{','.join(entries)}]", *kept]


def search_dirs(config_dir: str, overrides: list[str]) -> list[Path]:
    """The package's config folder and every ``file://`` or ``pkg://`` folder in ``hydra.searchpath``."""
    dirs = [Path(config_dir)]
    for key, _, value in (o.partition("=") for o in overrides):
        if key != SEARCH_PATH:
            continue
        for entry in (e.strip() for e in value.strip("[] ").split(",")):
            if entry.startswith("file://"):
                dirs.append(Path(entry.removeprefix("file://")))
            elif entry.startswith("pkg://"):
                spec = importlib.util.find_spec(entry.removeprefix("pkg://").replace("/", "."))
                dirs += [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    return dirs


def _options(config_dir: str, group: str, overrides: list[str]) -> list[str]:
    """Option names of a group across the package's configs and the user's."""
    return sorted({p.stem for d in search_dirs(config_dir, overrides) for p in d.glob(f"{group}/*.yaml")})


def _compose(config_dir: str, overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=True)


def _valid_keys(config_dir: str, overrides: list[str], key: str) -> str:
    parent = key.rpartition(".")[0]
    if not parent:
        return f"valid top-level settings: {', '.join(TOP_LEVEL)}"
    kept = [o for o in overrides if not o.lstrip("+~").startswith(key)]
    try:
        node = OmegaConf.select(_compose(config_dir, kept), parent)
    except HydraException:
        node = None
    if not isinstance(node, DictConfig):
        return f"'{parent}' has no settings to override"
    names = [k for k in node if not str(k).startswith("_")]
    if not names:
        return f"'{parent}' ({node.get('_target_', 'this option')}) takes no settings"
    return f"valid settings of '{parent}': {', '.join(names)}"


def explain(error: Exception, config_dir: str, overrides: list[str]) -> ConfigError:
    """Turn a Hydra composition error into one that names the key and what would be valid."""
    text = str(error)
    missing = re.search(r"Could not find '([\w/]+)/([^']+)'", text)
    if missing:
        group, option = missing.groups()
        return ConfigError(
            group,
            f"has no option {option!r}; valid options: {', '.join(_options(config_dir, group, overrides))}",
        )
    unknown = re.search(r"Could not override '([^']+)'", text)
    if unknown:
        key = unknown.group(1)
        return ConfigError(key, f"is not a setting here; {_valid_keys(config_dir, overrides, key)}")
    cause = error.__cause__
    if cause is not None and getattr(cause, "full_key", None):
        first = str(cause).splitlines()[0]
        typed = re.match(r"Value '(.*)' of type '(\w+)' could not be converted to (\w+)", first)
        if typed:
            value, kind, wanted = typed.groups()
            return ConfigError(cause.full_key, f"must be of type {wanted.lower()}, got {value!r} ({kind})")
        return ConfigError(cause.full_key, first)
    return ConfigError("", " ".join(text.split("Config search path")[0].split()))


def jobs(config_dir: str, overrides: list[str], multirun: bool) -> list[list[str]]:
    """The override list of every job the command line (and an experiment's sweep) will start."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    axes: list[list[str]] = []
    for o in parsed:
        if multirun and o.is_sweep_override():
            axes.append([f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()])
        else:
            axes.append([o.input_line])
    if multirun:
        first = [axis[0] for axis in axes]
        params = _compose(config_dir, first).hydra.sweeper.params or {}
        given = {o.key_or_group for o in parsed}
        for key, values in params.items():
            if key not in given:
                axes.append([f"{key}={v.strip()}" for v in str(values).split(",")])
    return [list(combo) for combo in itertools.product(*axes)]


def check_output_dir(key: str, path: str) -> None:
    """The run or sweep directory must be a writable folder, or creatable as one."""
    target = Path(path)
    existing = next((p for p in (target, *target.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ConfigError(key, f"{path} cannot be a run folder: {existing} is a file; choose another path")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(key, f"{existing} is not writable; choose a folder you can write to")


def preflight(config_dir: str, args: list[str]) -> None:
    """Compose, validate and build every job (up to a cap); raise ConfigError on the first bad one."""
    overrides, multirun = _split(args)
    try:
        combos = jobs(config_dir, overrides, multirun)
    except HydraException as error:
        raise explain(error, config_dir, overrides) from None
    for number, combo in enumerate(combos[:MAX_CHECKED_JOBS]):
        try:
            cfg = _compose(config_dir, combo)
        except HydraException as error:
            raise explain(error, config_dir, combo) from None
        if number == 0:
            key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
            check_output_dir(key, OmegaConf.select(cfg, key))
        resolved = validate(cfg)
        choices = {k: v for k, v in cfg.hydra.runtime.choices.items() if k in GROUPS}
        build(resolved, choices)
