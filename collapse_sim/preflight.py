"""Check every job of a command line before Hydra starts any of them.

Hydra lets ``+key`` typos through and reports composition mistakes tersely;
here each job's configuration is composed, validated and built up front, and
a mistake stops the command with one paragraph that names the key. The jobs
composed and built here are the ones that run (``hydra_bridge.run_composed``,
``launch_sweep``): each job is composed once and built once, in a sweep of
any size.
"""

from __future__ import annotations

import argparse
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from collapse_sim import phases
from collapse_sim.config import option_dirs
from collapse_sim.errors import ConfigError
from collapse_sim.hydra_bridge import compose_job, read_command
from collapse_sim.job import Job, build_job
from collapse_sim.locations import LOCK_FILE
from collapse_sim.resuming import Record, refuse_changes


@dataclass(frozen=True)
class Command:
    """A command line as checked: Hydra's reading of it, a sweep's own configuration (None for a run),
    and each job's overrides, composed configuration and built job, in the order its launcher runs them
    (none for ``--help``, ``--cfg``, ...)."""

    parsed: argparse.Namespace
    sweep: DictConfig | None
    jobs: list[tuple[list[str], DictConfig, Job]]


def check_output_dir(key: str, path: str) -> None:
    """The run or sweep directory must be a writable folder, or creatable as one, and not one another
    collapse_sim process is writing (refused at once, before anything is built)."""
    target = Path(path).absolute()  # a folder is named in full, never as "."
    existing = next((p for p in (target, *target.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ConfigError(key, f"{path} cannot be a run folder: {existing} is a file; choose another path")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(key, f"{existing} is not writable; choose a folder you can write to")
    if busy(target):
        raise ConfigError(
            key, f"another collapse_sim process is writing {target}; wait for it or pick another"
        )


def busy(run_dir: Path) -> bool:
    """Whether another process holds the run directory's lock (``runner.exclusive``)."""
    lock = run_dir / LOCK_FILE
    if not lock.is_file():
        return False
    with open(lock) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


def blame_experiment(error: ConfigError, overrides: list[str], cfg: DictConfig) -> ConfigError:
    """A refused setting the command line never typed but the chosen experiment set (``+experiment=
    curation mixing=replace`` leaves the experiment's ``mixing.real_fraction``): the same error, saying
    which file set it and the two ways on."""
    experiment = OmegaConf.select(cfg, "hydra.runtime.choices.experiment")
    typed = any(o.lstrip("+~").split("=")[0] == error.key for o in overrides)
    if not experiment or typed or "." not in error.key:
        return error
    searchpath = OmegaConf.select(cfg, "hydra.searchpath") or []
    found = [d / "experiment" / f"{experiment}.yaml" for d in option_dirs(searchpath)]
    path = next((p for p in found if p.is_file()), None)
    loaded = yaml.safe_load(path.read_text()) if path else None
    node = loaded
    for part in error.key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        return error
    group = error.key.split(".")[0]
    chosen = [d for d in loaded.get("defaults", []) if isinstance(d, dict)]  # {"override /mixing": ...}
    own = next((v for d in chosen for k, v in d.items() if k.endswith(f"/{group}")), None)
    keep = f"keep the experiment's {group}={own}, or " if own else ""
    return ConfigError(
        error.key,
        f"{error.message}. You did not set {error.key}: +experiment={experiment} did ({path}), for its own "
        f"{group}; {keep}drop the setting with ~{error.key}",
        command=error.command,
    )


def check_trackers(job: Job, run_or_sweep_dir: Path) -> None:
    """Each chosen tracker opens its store now: one it could not log to stops the command before any
    run folder exists."""
    if job.loggers:
        from collapse_sim.loggers import outputs_of

        for logger in job.loggers.values():
            logger.check(outputs_of(run_or_sweep_dir))


def preflight(args: list[str], resumed: Record | None = None) -> Command:
    """Compose, validate and build every job of the command line; raise ConfigError on the first bad
    one. ``resumed``: the record of the run or sweep a ``resume=`` command continues, whose results its
    jobs must not change. Inspecting flags (``--help``, ``--cfg``, ...) are left to Hydra unchecked."""
    parsed, sweep, combos = read_command(args)
    jobs = []
    for number, combo in enumerate(combos):
        cfg = compose_job(combo, sweep, number)
        phases.mark("composed")
        if number == 0:
            key = "hydra.sweep.dir" if parsed.multirun else "hydra.run.dir"
            check_output_dir(key, OmegaConf.select(cfg, key))
        try:
            job = build_job(cfg)
        except ConfigError as error:
            raise blame_experiment(error, combo, cfg) from None
        home = OmegaConf.select(cfg, "hydra.sweep.dir" if parsed.multirun else "hydra.run.dir")
        check_trackers(job, Path(home))
        if resumed is not None:
            refuse_changes(resumed, list(parsed.overrides), cfg, job.resolved)
        run_dir = Path(cfg.hydra.run.dir)
        if not parsed.multirun and run_dir.exists():  # checked before Hydra writes .hydra/ into it
            from collapse_sim.store import check_reusable  # xarray and zarr: only for a folder in use

            check_reusable(run_dir, job.resolved, job.resolved.get("store_url"))
        phases.mark("built")
        jobs.append((combo, cfg, job))
    return Command(parsed, sweep, jobs)
