"""The command line: ``python -m collapse_sim [overrides]`` (a Hydra app)."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from collapse_sim import resuming, stopping
from collapse_sim.checkpoints import atomic_write
from collapse_sim.config import register_schema
from collapse_sim.errors import ConfigError, RunFailure, describe_fault, exit_with, log_details
from collapse_sim.hydra_bridge import inspect, launch_sweep, normalize, run_composed
from collapse_sim.job import Job, build_job
from collapse_sim.locations import FAILURE_FILE
from collapse_sim.preflight import preflight
from collapse_sim.stopping import Stopped


class SweepTask:
    """A sweep's task, as its launcher calls it in each job's folder: the job built up front, by its
    number. A launcher that runs jobs in other processes (joblib, submitit) sends the task without the
    built jobs, and each process builds its one job there."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = jobs

    def __call__(self, cfg: DictConfig) -> None:
        hydra_cfg = HydraConfig.get()
        if self.jobs:
            return run_job(self.jobs[hydra_cfg.job.num])
        try:
            job = build_job(cfg, hydra_cfg)
        except ConfigError as error:
            return _record_failure(Path(hydra_cfg.runtime.output_dir), str(error))
        return run_job(job)

    def __getstate__(self) -> dict:
        return {"jobs": []}


def run_job(job: Job) -> None:
    """One simulation in Hydra's output folder: resume or create the store, loop, report.

    In a sweep a failing job does not end the sweep: its error goes to its own
    log and ``error.txt``, and the other jobs go on (``SweepOutcome`` reports it).
    """
    # Imported here, not at the top: a command refused before any work never pays for the
    # plotting and statistics imports of a run (about a second).
    from collapse_sim.runner import report_run, run_in_directory

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    (run_dir / FAILURE_FILE).unlink(missing_ok=True)  # a rerun starts clean
    try:
        recorder = run_in_directory(job, run_dir, lines=not in_sweep)
        label = _job_label(hydra_cfg, run_dir) if in_sweep else ""
        report_run(recorder, run_dir, plots=job.resolved["plots"], job=label)
    except Stopped as stopped:  # the chains have ended; what they finished is in the store
        folder = Path(hydra_cfg.sweep.dir) if in_sweep else run_dir
        which = f"job {run_dir.name} of the sweep {folder.absolute()}" if in_sweep else "the run"
        exit_with(
            f"{which} was stopped by {stopped.what}; {resuming.kept(run_dir)}. Resume it with:",
            code=stopped.code,
            label="stopped",
            command=resuming.resume_command(folder),
        )
    except ConfigError as error:
        if not in_sweep:
            exit_with(str(error))
        return _record_failure(run_dir, str(error))
    except RunFailure as error:
        if not in_sweep:
            exit_with(str(error), code=1)
        return _record_failure(run_dir, str(error))
    except Exception as error:
        if not in_sweep:
            raise
        log_details(traceback.format_exc())
        return _record_failure(run_dir, f"{type(error).__name__}: {error}")


def _job_label(hydra_cfg: DictConfig, run_dir: Path) -> str:
    """``2 (mixing=fresh seed=0)``: a sweep job's number and the settings the sweep varies."""
    swept = set(hydra_cfg.sweeper.get("params") or {})
    multirun = Path(hydra_cfg.sweep.dir) / "multirun.yaml"
    if multirun.is_file():  # the sweep's own command: a value with a comma or range(...) is swept
        import yaml

        task = (
            (yaml.safe_load(multirun.read_text()) or {}).get("hydra", {}).get("overrides", {}).get("task", [])
        )
        swept |= {o.partition("=")[0] for o in task if "," in o or "(" in o.partition("=")[2]}
    chosen = [o for o in hydra_cfg.overrides.task if o.lstrip("+~").partition("=")[0] in swept]
    return f"{run_dir.name} ({' '.join(chosen)})" if chosen else run_dir.name


def _record_failure(run_dir: Path, message: str) -> None:
    """A failed sweep job: one line on the terminal and in ``error.txt`` (written whole or not at all)."""
    line = " ".join(message.split())
    log_details(f"job failed: {line}")
    sys.stderr.write(f"collapse_sim: job {run_dir} failed: {line}\n")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(run_dir / FAILURE_FILE, lambda file: file.write(f"{line}\n".encode()))
    except OSError as error:  # a full disk: the line above is all that can be said
        sys.stderr.write(f"collapse_sim: could not write {run_dir / FAILURE_FILE}: {describe_fault(error)}\n")


def job_dirs(sweep_dir: Path) -> list[Path]:
    """The folders of a sweep's jobs (each has Hydra's ``.hydra/``)."""
    return [p for p in sweep_dir.iterdir() if (p / ".hydra").is_dir()] if sweep_dir.is_dir() else []


def failed_jobs(sweep_dir: Path) -> list[Path]:
    """The folders of a sweep's jobs that failed (each wrote ``error.txt``), in job order."""
    return sorted((p for p in job_dirs(sweep_dir) if (p / FAILURE_FILE).exists()), key=lambda p: p.name)


class SweepOutcome(Callback):
    """After a multirun, report it and name the jobs that failed (the command then exits with 1)."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        """One table of the sweep's arms and its report (``sweep.html``); then the failed jobs, named."""
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = job_dirs(sweep_dir)
        failed = failed_jobs(sweep_dir)
        if len(failed) < len(jobs):
            self._report(sweep_dir, config)
        if not failed:
            return
        listed = "; ".join(f"{p} ({(p / FAILURE_FILE).read_text().strip()})" for p in failed)
        exit_message = (
            f"{len(failed)} of {len(jobs)} jobs failed: {listed}. "
            "Each job's collapse_sim.log has the details; "
            f"the other jobs' stores are complete. Fix the cause and rerun the same command with "
            f"hydra.sweep.dir={sweep_dir}: finished jobs are skipped, the rest run"
        )
        sys.stderr.write("collapse_sim: error: " + exit_message + "\n")

    @staticmethod
    def _report(sweep_dir: Path, config: DictConfig) -> None:
        from collapse_sim.report import report_sweep

        try:
            page = report_sweep(sweep_dir, compare=False)
            mlflow = (config.get("logger") or {}).get("mlflow")
            if mlflow is not None:  # the sweep's own MLflow run gets its report and ends
                from collapse_sim.loggers.mlflow_logger import finish_sweep

                finish_sweep(sweep_dir, [page], mlflow.get("tracking_uri"))
        except (OSError, ValueError) as error:  # the jobs' own stores and reports stand
            sys.stderr.write(
                f"collapse_sim: the sweep report could not be written: {describe_fault(error)}\n"
            )


def main() -> None:
    """Entry point: check every job of the command line, then run each as composed and built here."""
    stopping.install()
    register_schema()
    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # no font-cache chatter in run logs
    logging.raiseExceptions = False  # a log file on a full disk is no second error after the first
    logging.captureWarnings(True)  # every warning in the run's log too (collapse_sim.log)
    try:
        resume, args = resuming.split(normalize(sys.argv[1:]))
        resumed = None
        if resume is not None:
            args, resumed = resuming.expand(resume, args)
        command = preflight(args, resumed)
        if resume is None:
            resuming.refuse_a_twin(command)
    except ConfigError as error:
        exit_with(str(error), command=error.command)
    except Stopped as stopped:
        exit_with(
            f"by {stopped.what} before any work; nothing was written", code=stopped.code, label="stopped"
        )
    if command.parsed.help:  # our page, not Hydra's stock one (--hydra-help gives that)
        from collapse_sim.help import help_page

        print(help_page())
    elif not command.jobs:  # --cfg, --info, ...: Hydra prints what is asked
        inspect(args)
    elif command.sweep is None:  # one run
        ((_, cfg, job),) = command.jobs
        run_composed(cfg, lambda _: run_job(job))
    else:
        launch_sweep(
            command.sweep, [(o, cfg) for o, cfg, _ in command.jobs], SweepTask([j for *_, j in command.jobs])
        )
        if failed_jobs(Path(str(command.sweep.hydra.sweep.dir))):
            sys.exit(1)
