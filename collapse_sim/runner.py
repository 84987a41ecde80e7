"""One run on disk: lock its directory, open or resume its store, run its chains with a progress display."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from collapse_sim import __version__, phases
from collapse_sim.chains import run_chains
from collapse_sim.errors import ConfigError, RunFailure, describe_fault, stopped
from collapse_sim.lineages import each_chain
from collapse_sim.locations import LOCK_FILE
from collapse_sim.progress import Attempt, RunProgress, wall_time_line
from collapse_sim.recording import Recorder
from collapse_sim.reporting.html import write_run_page
from collapse_sim.reporting.intervals import plural
from collapse_sim.reporting.run import plot_run, summarize
from collapse_sim.stopping import shielded
from collapse_sim.store import RunStore
from collapse_sim.tracking import Trackers

if TYPE_CHECKING:  # the runner is handed built jobs; it never builds one
    from collapse_sim.job import Job


@contextmanager
def exclusive(run_dir: Path):
    """Hold a lock on the run directory: two processes must never write one store."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / LOCK_FILE, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                "hydra.run.dir",
                f"another collapse_sim process is writing {run_dir}; wait for it or pick another",
            ) from None
        yield


def store_attrs(job: Job) -> dict:
    """Root attributes of a run's store: config, choices, overrides, version, start time, device."""
    # the groups a user chose; not Hydra's own, nor debug_trainer@trainer (which follows from debug)
    choices = {k: v for k, v in job.choices.items() if not k.startswith("hydra") and "@" not in k}
    return {
        "name": job.resolved["name"],
        "config": json.loads(json.dumps(job.resolved)),
        "config_yaml": yaml.safe_dump(job.resolved, sort_keys=False, allow_unicode=True),
        "choices": choices,
        "overrides": job.overrides,
        "version": __version__,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "device": job.sim.trainer.device,
    }


def run_in_directory(job: Job, run_dir: Path, *, lines: bool = True):
    """Create or resume the simulation's store in ``run_dir`` and run what is left of its chains.

    Each finished generation goes to the run's one writer (``Recorder``), which
    is returned: it holds the store and the trackers, which are finished once
    the report exists. ``lines``: a plain line per generation on an output that
    is not a terminal (a sweep's jobs print one line each instead).
    """
    sim, resolved = job.sim, job.resolved
    plan = sim.chains
    chains = None if plan.vectorised else plan.chains
    with exclusive(run_dir):
        store, start = RunStore.open_or_create(
            run_dir,
            generations=sim.generations,
            attrs=store_attrs(job),
            url=resolved.get("store_url"),
            chains=chains,
            batched=resolved["store_flush_s"] > 0,
        )
        phases.mark("store")
        trackers = Trackers(job.loggers, run_dir, per_chain=chains is not None)
        recorder = Recorder(
            store,
            trackers,
            run_dir,
            flush_s=resolved["store_flush_s"],
            history_window=sim.mixing.history_window,
            start=start,
        )
        trackers.start(store, run_dir, name=resolved["name"], config=resolved, overrides=job.overrides)
        starts = [start] if plan.vectorised else store.chain_starts()
        if start == sim.generations:
            print(f"{run_dir}: all {start} generations are already complete")
        elif any(starts):
            print(f"resuming {run_dir} at generation {min(starts)} of {sim.generations}")
        if not plan.vectorised:
            print(f"{plural(plan.chains, 'chain')}, {plan.workers} at a time")
        total = plan.chains * sim.generations
        progress = RunProgress(resolved["name"], total, sum(starts), sim.generations, lines=lines)
        # Only an attempt that had work is timed: a sweep resumed for its unfinished jobs adds none to
        # the jobs already complete.
        timed = Attempt(run_dir) if min(starts, default=sim.generations) < sim.generations else nullcontext()
        with timed, progress as bars, finally_written(recorder, run_dir):
            for done in run_chains(sim, run_dir, starts=starts, progress=bars, prune=not recorder.held):
                chain = None if plan.vectorised else done.chain
                with writing(run_dir, done.generation, "" if plan.vectorised else f"chain {done.chain} "):
                    with shielded():  # a Ctrl-C here waits until the generation is recorded and logged
                        recorder.record(done, chain)
                        bars.generation_done(done.results, chain, done.generation)
                phases.mark("generation")
    return recorder


@contextmanager
def writing(run_dir: Path, generation: int, where: str = ""):
    """A fault of the disk while the store is written stops the run, naming the generation and the fault."""
    try:
        yield
    except OSError as error:
        fault = describe_fault(error)
        raise stopped(f"{where}stopped in generation {generation}: {fault}", run_dir) from None


@contextmanager
def finally_written(recorder: Recorder, run_dir: Path):
    """Whatever ends the loop (its end, a stop, a failure), the generations held in memory are written.

    Held generations that cannot be written after a failure (the disk that stopped the run is full) are
    named beside the failure: the rerun recomputes them."""
    try:
        yield
    except BaseException as error:
        if not recorder.pending:
            raise
        held = [done.generation for done in recorder.pending]
        try:
            with shielded():
                recorder.flush()
        except OSError as fault:
            cause = getattr(error, "what", None) or f"stopped by {describe_fault(error)}"
            span = f"generation {held[0]}" if len(held) == 1 else f"generations {held[0]}-{held[-1]}"
            raise RunFailure(
                f"{cause}; {span}, finished, could not be written either ({describe_fault(fault)}), so a "
                f"rerun recomputes them. The generations before are kept in the store; fix the cause and "
                f"rerun into {run_dir} to resume"
            ) from None
        raise
    if recorder.pending:
        with shielded(), writing(run_dir, recorder.pending[0].generation):
            recorder.flush()


def report_run(recorder: Recorder, run_dir: Path, *, plots: bool, job: str = "") -> None:
    """The summary on the terminal; the plots and ``report.html`` beside the store; the trackers closed.
    A sweep's job (``job``: its label) prints one line instead: the sweep ends with one table.

    A file that cannot be written here (a full disk, a read-only ``curves.png``)
    is a RunFailure: the store is complete and stays readable.
    """
    store, trackers = recorder.store, recorder.trackers
    ds = each_chain(recorder.results())  # a run with lineages is reported by chain, each its lineages' mean
    if not job:
        summarize(ds, store.path, run_dir=run_dir)
    phases.mark("summary")
    try:
        files = plot_run(ds, run_dir) if plots else []
        for path in files if not job else []:
            print(f"plot: {path}")
        phases.mark("plots")
        files.append(write_run_page(ds, run_dir, files))
        phases.mark("report")
    except OSError as error:
        raise RunFailure(
            f"every generation is in the store {store.path}, but the report could not be written: "
            f"{describe_fault(error)}. Read the results with collapse_sim.open_run; fix the cause and "
            f"rerun the same command into {run_dir} to write the report"
        ) from None
    if job:
        print(f"job {job} ended: {wall_time_line(ds, run_dir)}; report: {files[-1]}", flush=True)
    else:
        print(f"report: {files[-1]}")
    trackers.finish(files, ds)
    for line in trackers.where() if not job else []:
        print(line)
