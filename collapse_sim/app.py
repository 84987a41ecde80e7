"""The command line: ``python -m collapse_sim [overrides]`` (a Hydra app)."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import sys
from contextlib import contextmanager
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from collapse_sim import __version__
from collapse_sim.api import CONFIG_DIR
from collapse_sim.build import attach_workdir, build
from collapse_sim.checkpoints import Checkpoints, atomic_write
from collapse_sim.config import register_schema, validate
from collapse_sim.errors import ConfigError, exit_with
from collapse_sim.loop import simulate
from collapse_sim.preflight import PASS_THROUGH_FLAGS, normalize, preflight
from collapse_sim.report import plot_run, summarize
from collapse_sim.store import RunStore, open_run
from collapse_sim.sweep import FAILURE_FILE

FAILED_JOBS: list[Path] = []  # filled by SweepOutcome in the process that launched the sweep
LOG = logging.getLogger("collapse_sim")


@contextmanager
def exclusive(run_dir: Path):
    """Hold a lock on the run directory: two processes must never write one store."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                "hydra.run.dir",
                f"another collapse_sim process is writing {run_dir}; wait for it or pick another",
            ) from None
        yield


def _store_attrs(resolved: dict, hydra_cfg, device: str) -> dict:
    choices = {k: v for k, v in hydra_cfg.runtime.choices.items() if not k.startswith("hydra")}
    return {
        "name": resolved["name"],
        "config": json.loads(json.dumps(resolved)),
        "config_yaml": OmegaConf.to_yaml(resolved),
        "choices": choices,
        "overrides": list(hydra_cfg.overrides.task),
        "version": __version__,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "device": device,
    }


def run_job(cfg: DictConfig) -> None:
    """One simulation: check, build, resume or create the store, loop, report.

    In a sweep a failing job does not end the sweep: its error goes to its own
    log and ``error.txt``, and the other jobs go on (``SweepOutcome`` reports it).
    """
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    (run_dir / FAILURE_FILE).unlink(missing_ok=True)  # a rerun starts clean
    try:
        resolved, store = _simulate(cfg, hydra_cfg, run_dir)
    except ConfigError as error:
        if not in_sweep:
            exit_with(str(error))
        return _record_failure(run_dir, str(error), traceback=False)
    except Exception as error:
        if not in_sweep:
            raise
        return _record_failure(run_dir, f"{type(error).__name__}: {error}", traceback=True)
    ds = open_run(store.path)
    summarize(ds, store.path)
    if resolved["plots"]:
        for path in plot_run(ds, run_dir):
            print(f"plot: {path}")


def _simulate(cfg: DictConfig, hydra_cfg, run_dir: Path):
    resolved = validate(cfg)
    sim = build(resolved, dict(hydra_cfg.runtime.choices))
    with exclusive(run_dir):
        attrs = _store_attrs(resolved, hydra_cfg, getattr(sim.trainer, "device", "cpu"))
        store, start = RunStore.open_or_create(
            run_dir, generations=sim.generations, attrs=attrs, url=resolved.get("store_url")
        )
        attach_workdir(sim, run_dir)
        if start == sim.generations:
            print(f"{run_dir}: all {start} generations are already complete")
        elif start:
            print(f"resuming {run_dir} at generation {start} of {sim.generations}")
        checkpoints = Checkpoints(run_dir, history_window=sim.mixing.history_window)
        with Progress(
            TextColumn(f"[bold]{resolved['name']}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("generations"),
            TimeElapsedColumn(),
            transient=True,
        ) as progress:
            task = progress.add_task("run", total=sim.generations, completed=start)
            simulate(
                sim,
                store,
                checkpoints,
                start=start,
                on_generation=lambda g: progress.update(task, completed=g + 1),
            )
    return resolved, store


def _record_failure(run_dir: Path, message: str, *, traceback: bool) -> None:
    """Log a failed sweep job in its own log and ``error.txt`` (written whole or not at all)."""
    LOG.error("job failed: %s", message, exc_info=traceback)
    line = " ".join(message.split())
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(run_dir / FAILURE_FILE, lambda file: file.write(f"{line}\n".encode()))
    sys.stderr.write(f"collapse_sim: job {run_dir} failed: {line}\n")


class SweepOutcome(Callback):
    """After a multirun, name the jobs that failed and make the command exit with 1."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        """Count ``error.txt`` files in the sweep directory."""
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = [p for p in sweep_dir.iterdir() if (p / ".hydra").is_dir()] if sweep_dir.is_dir() else []
        failed = sorted((p for p in jobs if (p / FAILURE_FILE).exists()), key=lambda p: p.name)
        if not failed:
            return
        FAILED_JOBS.extend(failed)
        listed = "; ".join(f"{p} ({(p / FAILURE_FILE).read_text().strip()})" for p in failed)
        exit_message = (
            f"{len(failed)} of {len(jobs)} jobs failed: {listed}. "
            "Each job's collapse_sim.log has the details; "
            f"the other jobs' stores are complete. Fix the cause and rerun the same command with "
            f"hydra.sweep.dir={sweep_dir}: finished jobs are skipped, the rest run"
        )
        sys.stderr.write("collapse_sim: error: " + exit_message + "\n")


def main() -> None:
    """Entry point: check every job's configuration, then hand over to Hydra."""
    register_schema()
    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # no font-cache chatter in run logs
    args = normalize(sys.argv[1:])
    sys.argv[1:] = args
    if not any(a.split("=")[0] in PASS_THROUGH_FLAGS for a in args):
        try:
            preflight(CONFIG_DIR, args)
        except ConfigError as error:
            exit_with(str(error))
    hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")(run_job)()
    if FAILED_JOBS:
        sys.exit(1)
