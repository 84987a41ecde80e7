"""Check every job of a command line before Hydra starts any of them.

Hydra lets ``+key`` typos through and reports composition mistakes tersely;
here each job's configuration is composed, validated and built up front (the
command line read by Hydra's own parser), and Hydra's errors are rephrased
from the key and options its exceptions carry. The jobs built here are kept,
so the run in this process builds none again.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

from collapse_sim.build import Simulation, build, build_loggers
from collapse_sim.config import CONFIG_DIR, GROUPS, TOP_LEVEL, option_dirs, validate
from collapse_sim.errors import ConfigError

SEARCH_PATH = "hydra.searchpath"
# Groups that the defaults list holds as `null`: Hydra rejects `+experiment=x` for
# them ("Multiple values"), yet users write it, so it is read as `experiment=x`.
OPTIONAL_GROUPS = ("experiment", "debug")
MAX_CHECKED_JOBS = 64
# Hydra's flags that print or inspect instead of running: Hydra handles them, nothing is checked.
INSPECTING = ("help", "hydra_help", "cfg", "info", "shell_completion", "experimental_rerun")
CHECKED: dict[str, Job] = {}  # job key -> the job as validated and built


def normalize(args: list[str]) -> list[str]:
    """Arguments with ``+experiment=``/``+debug=`` read as ``experiment=``/``debug=``."""
    return [a[1:] if a.startswith("+") and a[1:].split("=")[0] in OPTIONAL_GROUPS else a for a in args]


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


def job_key(cfg: DictConfig) -> str | None:
    """What identifies a job: its resolved configuration without the ``hydra`` node (None if it cannot
    be resolved: ``validate`` says why)."""
    job = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    try:
        return json.dumps(OmegaConf.to_container(job, resolve=True), sort_keys=True, default=str)
    except Exception:
        return None


def _compose(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=True)


def _valid_keys(overrides: list[str], key: str) -> str:
    parent = key.rpartition(".")[0]
    if not parent:
        return f"valid top-level settings: {', '.join(TOP_LEVEL)}"
    kept = [o for o in overrides if not o.lstrip("+~").startswith(key)]
    try:
        node = OmegaConf.select(_compose(kept), parent)
    except HydraException:
        node = None
    if not isinstance(node, DictConfig):
        return f"'{parent}' has no settings to override"
    names = [k for k in node if not str(k).startswith("_")]
    if not names:
        return f"'{parent}' ({node.get('_target_', 'this option')}) takes no settings"
    return f"valid settings of '{parent}': {', '.join(names)}"


def converted_type(message: str) -> tuple[str, str, str] | None:
    """(value, its type, the wanted type) from OmegaConf's conversion error, or None for another message.

    The one message read from text; ``tests/test_error_messages.py`` pins it against the installed OmegaConf.
    """
    import re

    found = re.match(r"Value '(.*)' of type '(\w+)' could not be converted to (\w+)", message)
    return found.groups() if found else None


def explain(error: Exception, overrides: list[str]) -> ConfigError:
    """Turn a Hydra composition error into one that names the key and what would be valid."""
    if isinstance(error, MissingConfigException) and error.missing_cfg_file and "/" in error.missing_cfg_file:
        group, option = error.missing_cfg_file.rsplit("/", 1)
        return ConfigError(
            group, f"has no option {option!r}; valid options: {', '.join(error.options or [])}"
        )
    cause = error.__cause__
    key = getattr(cause, "full_key", None)
    if isinstance(cause, ConfigAttributeError | ConfigKeyError) and key:
        return ConfigError(key, f"is not a setting here; {_valid_keys(overrides, key)}")
    if isinstance(cause, ValidationError) and key:
        first = str(cause).splitlines()[0]
        typed = converted_type(first)
        if typed:
            value, kind, wanted = typed
            return ConfigError(key, f"must be of type {wanted.lower()}, got {value!r} ({kind})")
        return ConfigError(key, first)
    return ConfigError("", " ".join(str(error).split("Config search path")[0].split()))


def jobs(overrides: list[str], multirun: bool) -> list[list[str]]:
    """The override list of every job the command line (and an experiment's sweep) will start."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    axes: list[list[str]] = []
    for o in parsed:
        if multirun and o.is_sweep_override():
            axes.append([f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()])
        else:
            axes.append([o.input_line])
    if multirun:
        params = _compose([axis[0] for axis in axes]).hydra.sweeper.params or {}
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


@dataclass(frozen=True)
class Job:
    """One job as validated and built: its resolved configuration, simulation and trackers."""

    resolved: dict
    sim: Simulation
    loggers: dict


def checked(cfg: DictConfig, hydra_cfg: DictConfig) -> Job:
    """A composed job validated and built, once per process: a job preflight built is not built again."""
    key = job_key(cfg)
    if key is not None and key in CHECKED:
        return CHECKED[key]
    resolved = validate(cfg)
    choices = {k: v for k, v in hydra_cfg.runtime.choices.items() if k in GROUPS}
    sim = build(resolved, choices, option_dirs=option_dirs(hydra_cfg.searchpath))
    job = Job(resolved, sim, build_loggers(resolved))
    if key is not None:
        CHECKED[key] = job
    return job


def preflight(args: list[str]) -> None:
    """Compose, validate and build every job (up to a cap); raise ConfigError on the first bad one.

    Inspecting flags (``--help``, ``--cfg``, ...) are left to Hydra unchecked.
    """
    parsed = get_args_parser().parse_args(args)
    if any(getattr(parsed, flag) for flag in INSPECTING):
        return
    extra = [parsed.config_dir] if parsed.config_dir else []
    overrides = with_search_path(list(parsed.overrides), extra)
    try:
        combos = jobs(overrides, parsed.multirun)
    except HydraException as error:
        raise explain(error, overrides) from None
    for number, combo in enumerate(combos[:MAX_CHECKED_JOBS]):
        try:
            cfg = _compose(combo)
        except HydraException as error:
            raise explain(error, combo) from None
        if number == 0:
            key = "hydra.sweep.dir" if parsed.multirun else "hydra.run.dir"
            check_output_dir(key, OmegaConf.select(cfg, key))
        checked(cfg, cfg.hydra)
