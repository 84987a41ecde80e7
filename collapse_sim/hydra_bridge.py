"""What collapse_sim knows of Hydra beyond its documented API, in one place.

- the command line is read by Hydra's own parser (``get_args_parser``);
- a job is composed with the compose API; a composition error is explained from
  the key and options Hydra's and OmegaConf's exceptions carry (one message,
  OmegaConf's type conversion, is read as text);
- a sweep's jobs are expanded by Hydra's basic sweeper's own ``split_arguments``;
- one composed job runs through Hydra's ``run_job`` (output folder, logging,
  ``.hydra/`` files, callbacks) as ``hydra.main`` would run it, and a sweep's
  composed jobs go to the launcher the configuration names (basic, joblib,
  submitit, ray) through a config loader that hands it each job as composed
  here: every job is composed once, where ``hydra.main`` composes a single run
  three times and each sweep job four.

``tests/test_hydra_bridge.py`` pins each of these against the installed Hydra
and OmegaConf: an upgrade that changes one fails there.
"""

from __future__ import annotations

import argparse
import copy
import re
from collections.abc import Callable
from pathlib import Path

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

from collapse_sim.config import CONFIG_DIR, TOP_LEVEL
from collapse_sim.config_tree import GROUPS
from collapse_sim.errors import ConfigError, did_you_mean
from collapse_sim.stopping import Stopped

SEARCH_PATH = "hydra.searchpath"
# Groups that the defaults list holds as `null`: Hydra rejects `+experiment=x` for
# them ("Multiple values"), yet users write it, so it is read as `experiment=x`.
OPTIONAL_GROUPS = ("experiment", "debug")
# Hydra's flags that print or inspect instead of running: Hydra handles them, nothing is checked.
INSPECTING = ("help", "hydra_help", "cfg", "info", "shell_completion", "experimental_rerun")
JOB_NAME = "collapse_sim"


def normalize(args: list[str]) -> list[str]:
    """Arguments with ``+experiment=``/``+debug=`` read as ``experiment=``/``debug=``."""
    return [a[1:] if a.startswith("+") and a[1:].split("=")[0] in OPTIONAL_GROUPS else a for a in args]


def parse_command_line(args: list[str]) -> argparse.Namespace:
    """The command line as ``hydra.main`` reads it: ``overrides``, ``multirun``, ``config_dir``, flags."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()
    parser.prog = "python -m collapse_sim"  # not "__main__.py"; --help is collapse_sim.help's page
    return parser.parse_args(args)


def inspects(parsed: argparse.Namespace) -> bool:
    """Whether the command line asks Hydra to print or inspect (``--help``, ``--cfg``, ...) instead of run."""
    return any(getattr(parsed, flag) for flag in INSPECTING)


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


def compose(overrides: list[str]) -> DictConfig:
    """The job's configuration with its ``hydra`` node; a HydraException if it cannot be composed."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name=JOB_NAME):
        return hydra_compose("config", overrides=overrides, return_hydra_config=True)


def compose_explained(overrides: list[str]) -> DictConfig:
    """``compose``, with a composition error turned into a ConfigError that names the key."""
    try:
        return compose(overrides)
    except HydraException as error:  # explained once Hydra is released: explaining may compose again
        stopped = _stop_within(error)
        if stopped is not None:  # Ctrl-C or SIGTERM while Hydra composed: the stop, not a setting
            raise stopped from None
        raise explain(error, overrides) from None


def _stop_within(error: BaseException) -> Stopped | None:
    """The ``Stopped`` a composition error was raised while handling, if any (its causes and contexts)."""
    while error is not None:
        if isinstance(error, Stopped):
            return error
        error = error.__cause__ or error.__context__
    return None


def _valid_keys(overrides: list[str], key: str) -> str:
    parent, _, last = key.rpartition(".")
    kept = [o for o in overrides if not o.lstrip("+~").startswith(key)]
    if not parent:
        return f"valid top-level settings: {', '.join(TOP_LEVEL)}" + _misplaced(kept, last)
    try:
        node = OmegaConf.select(compose(kept), parent)
    except HydraException:
        node = None
    if not isinstance(node, DictConfig):
        return f"'{parent}' has no settings to override"
    names = [k for k in node if not str(k).startswith("_")]
    if not names:
        return f"'{parent}' ({node.get('_target_', 'this option')}) takes no settings"
    return f"valid settings of '{parent}': {', '.join(names)}" + did_you_mean(last, names)


def _misplaced(overrides: list[str], name: str) -> str:
    """Where a top-level ``name`` belongs: under the chosen component that takes it, else under any
    option of a group that has it (``real_fraction`` is ``mixing.real_fraction``); else the closest
    top-level setting."""
    try:
        cfg = compose(overrides)
    except HydraException:
        cfg = DictConfig({})
    for group in GROUPS:
        node = cfg.get(group)
        if isinstance(node, DictConfig) and name in node:
            return f"; did you mean {group}.{name}?"
        for entry, child in node.items() if isinstance(node, DictConfig) else ():  # metrics, logger
            if isinstance(child, DictConfig) and name in child:
                return f"; did you mean {group}.{entry}.{name}?"
    for group in GROUPS:
        options = [p.stem for p in sorted(Path(CONFIG_DIR, group).glob("*.yaml")) if name in _keys_of(p)]
        if options:
            return (
                f"; {name} is a setting of {group}={', '.join(options)}: choose one and set it under it, "
                f"e.g. {group}={options[0]} {group}.{name}=VALUE"
            )
    return did_you_mean(name, TOP_LEVEL)


def _keys_of(option: Path) -> set[str]:
    """The settings an option file of a group sets at its top."""
    import yaml

    loaded = yaml.safe_load(option.read_text())
    return set(loaded) if isinstance(loaded, dict) else set()


def converted_type(message: str) -> tuple[str, str, str] | None:
    """(value, its type, the wanted type) from OmegaConf's conversion error, or None for another message.

    The one message read from text.
    """
    found = re.match(r"Value '(.*)' of type '(\w+)' could not be converted to (\w+)", message)
    return found.groups() if found else None


def explain(error: Exception, overrides: list[str]) -> ConfigError:
    """Turn a Hydra composition error into one that names the key and what would be valid."""
    if isinstance(error, MissingConfigException) and error.missing_cfg_file and "/" in error.missing_cfg_file:
        group, option = error.missing_cfg_file.rsplit("/", 1)
        valid = error.options or []
        return ConfigError(
            group,
            f"has no option {option!r}; valid options: {', '.join(valid)}" + did_you_mean(option, valid),
        )
    cause = error.__cause__
    keyed = isinstance(cause, ConfigAttributeError | ConfigKeyError | ValidationError)
    key = cause.full_key if keyed else None
    if isinstance(cause, ConfigAttributeError | ConfigKeyError) and key:
        return ConfigError(key, f"is not a setting here; {_valid_keys(overrides, key)}")
    if isinstance(cause, ValidationError) and key:
        first = str(cause).splitlines()[0]
        typed = converted_type(first)
        if typed:
            value, kind, wanted = typed
            return ConfigError(key, f"must be of type {wanted.lower()}, got {value!r} ({kind})")
        return ConfigError(key, first)
    appended = re.match(r"Could not append to config\. An item is already at '([\w.]+)'", str(error))
    if appended:  # +generations=5: the + adds a key that is not there yet
        key = appended[1]
        given = next((o for o in overrides if o.lstrip("+").startswith(f"{key}=")), f"{key}=VALUE")
        return ConfigError(
            key,
            f"is already a setting, so it is given without a +: {given.lstrip('+')} (a + adds a key that "
            "does not exist yet; ++ adds or replaces one)",
        )
    # Hydra appends its search path to some messages; the user's folders are named elsewhere.
    return ConfigError("", " ".join(str(error).split("Config search path")[0].split()))


def sweep_jobs(overrides: list[str]) -> tuple[DictConfig, list[list[str]]]:
    """The sweep's own configuration (as ``hydra.main`` saves it in ``multirun.yaml``) and the override
    list of every job a multirun of ``overrides`` starts, as Hydra's basic sweeper expands them: the
    experiment's ``hydra.sweeper.params`` first, the command line's after (a key given on both is the
    command line's)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    parsed = parser.parse_overrides(overrides)
    plain = [o.input_line for o in parsed if not o.is_sweep_override()]
    sweep = compose_explained([*plain, "hydra.mode=MULTIRUN"])
    with open_dict(sweep):
        sweep.hydra.overrides.task = [o.input_line for o in parsed if not o.is_hydra_override()]
    str(sweep.hydra.sweep.dir)  # resolved now: every job's ${now:...} reads this one (``compose_job``)
    # A key the command line deletes (~mixing.tpr, for an option that has no such setting) is not swept.
    deleted = {o.removeprefix("~").split("=")[0] for o in overrides if o.startswith("~")}
    params = {k: v for k, v in (sweep.hydra.sweeper.params or {}).items() if k not in deleted}
    arguments = [f"{key}={value}" for key, value in params.items()] + list(overrides)
    try:
        (jobs,) = BasicSweeper.split_arguments(parser.parse_overrides(arguments), None)
    except HydraException as error:
        raise explain(error, overrides) from None
    return sweep, jobs


def compose_job(overrides: list[str], sweep: DictConfig | None, number: int) -> DictConfig:
    """One job of a command, composed (with ``compose_explained``); in a sweep, numbered as its launcher
    numbers it, with the sweep's own resolved values (one timestamp for the sweep's folder)."""
    if sweep is None:
        return compose_explained(overrides)
    cfg = compose_explained([*overrides, "hydra.mode=MULTIRUN"])
    OmegaConf.copy_cache(from_config=sweep, to_config=cfg)
    with open_dict(cfg):
        cfg.hydra.job.id = cfg.hydra.job.num = number
    return cfg


def read_command(args: list[str]) -> tuple[argparse.Namespace, DictConfig | None, list[list[str]]]:
    """The command line as Hydra reads it, a sweep's own configuration (None for a single run), and the
    overrides of every job it starts: one for a run, each of a sweep's (``sweep_jobs``), none for an
    inspecting flag (``--help``, ``--cfg``, ...)."""
    parsed = parse_command_line(args)
    if inspects(parsed):
        return parsed, None, []
    overrides = with_search_path(list(parsed.overrides), [parsed.config_dir] if parsed.config_dir else [])
    if not parsed.multirun:
        return parsed, None, [overrides]
    sweep, jobs = sweep_jobs(overrides)
    return parsed, sweep, jobs


def run_composed(cfg: DictConfig, task: Callable[[DictConfig], None]) -> None:
    """Run one job composed by ``compose`` as ``hydra.main`` runs one: its callbacks, its output folder,
    logging to ``<run dir>/collapse_sim.log``, ``.hydra/`` with the job's config and overrides, then
    ``task``; an exception ``task`` raises is raised here."""
    from hydra._internal.callbacks import Callbacks
    from hydra.core.utils import configure_log, run_job
    from hydra.types import HydraContext, RunMode

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name=JOB_NAME):
        from hydra.core.global_hydra import GlobalHydra

        loader = GlobalHydra.instance().config_loader()
        OmegaConf.set_readonly(cfg.hydra, False)
        cfg.hydra.mode = RunMode.RUN
        configure_log(cfg.hydra.hydra_logging, cfg.hydra.verbose)
        callbacks = Callbacks(cfg)
        callbacks.on_run_start(config=cfg, config_name="config")
        ran = run_job(
            hydra_context=HydraContext(config_loader=loader, callbacks=callbacks),
            task_function=task,
            config=cfg,
            job_dir_key="hydra.run.dir",
            job_subdir_key=None,
        )
        callbacks.on_run_end(config=cfg, config_name="config", job_return=ran)
    ran.return_value  # noqa: B018 (raises the task's exception, as hydra.main does)


class ComposedJobs:
    """Hydra's config loader, handing a launcher each sweep job as ``compose_job`` composed it.

    A launcher asks its loader for every job's configuration (``load_sweep_config``); this one answers
    from the jobs composed up front, so none is composed again. Sent to another process (the joblib,
    submitit or ray launchers pickle it), it leaves the jobs behind and that process composes its one.
    """

    def __init__(self, loader, jobs: list[tuple[list[str], DictConfig]]) -> None:
        self.loader = loader
        self.jobs = {tuple(overrides): cfg for overrides, cfg in jobs}

    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        """The job composed up front for ``sweep_overrides`` (a copy); Hydra's own composition if none."""
        composed = self.jobs.get(tuple(sweep_overrides))
        if composed is None:
            return self.loader.load_sweep_config(master_config, sweep_overrides)
        return copy.deepcopy(composed)

    def __getattr__(self, name: str):
        if name in ("loader", "jobs"):  # not yet set (while unpickling)
            raise AttributeError(name)
        return getattr(self.loader, name)

    def __getstate__(self) -> dict:
        return {"loader": self.loader, "jobs": {}}


def launch_sweep(
    sweep: DictConfig, jobs: list[tuple[list[str], DictConfig]], task: Callable[[DictConfig], None]
) -> None:
    """Run a sweep's composed jobs as ``hydra.main`` runs a multirun: its callbacks (``on_multirun_*``),
    ``multirun.yaml`` in the sweep folder, and the launcher the configuration names, which calls
    ``task`` in each job's folder (``hydra.sweep.dir/hydra.sweep.subdir``)."""
    from hydra._internal.callbacks import Callbacks
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.plugins import Plugins
    from hydra.core.utils import configure_log
    from hydra.types import HydraContext

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name=JOB_NAME):
        loader = ComposedJobs(GlobalHydra.instance().config_loader(), jobs)
        configure_log(sweep.hydra.hydra_logging, sweep.hydra.verbose)
        callbacks = Callbacks(sweep)
        callbacks.on_multirun_start(config=sweep, config_name="config")
        folder = Path(str(sweep.hydra.sweep.dir))
        folder.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(sweep, folder / "multirun.yaml")
        launcher = Plugins.instance().instantiate_launcher(
            hydra_context=HydraContext(config_loader=loader, callbacks=callbacks),
            task_function=task,
            config=sweep,
        )
        launcher.launch([overrides for overrides, _ in jobs], initial_job_idx=0)
        callbacks.on_multirun_end(config=sweep, config_name="config")


def inspect(args: list[str]) -> None:
    """Hand an inspecting command line (``--help``, ``--cfg``, ``--info``, ...) to ``hydra.main``, which
    prints what it asks for and runs nothing."""
    import sys

    import hydra

    sys.argv[1:] = args
    hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")(lambda _: None)()
