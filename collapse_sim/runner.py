"""One run on disk: lock its directory, open or resume its store, run its chains with a progress display."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
from contextlib import contextmanager
from pathlib import Path

from omegaconf import OmegaConf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from collapse_sim import __version__
from collapse_sim.build import Simulation, build
from collapse_sim.chains import run_chains
from collapse_sim.errors import ConfigError, RunFailure, describe_fault
from collapse_sim.protocols import DeviceTrainer
from collapse_sim.reporting.html import write_run_page
from collapse_sim.reporting.intervals import plural
from collapse_sim.reporting.run import plot_run, summarize
from collapse_sim.store import RunStore, open_run
from collapse_sim.tracking import TrackedStore


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


def store_attrs(resolved: dict, hydra_cfg, sim: Simulation) -> dict:
    """Root attributes of a run's store: config, choices, overrides, version, start time, device."""
    choices = {k: v for k, v in hydra_cfg.runtime.choices.items() if not k.startswith("hydra")}
    return {
        "name": resolved["name"],
        "config": json.loads(json.dumps(resolved)),
        "config_yaml": OmegaConf.to_yaml(resolved),
        "choices": choices,
        "overrides": list(hydra_cfg.overrides.task),
        "version": __version__,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "device": sim.trainer.device if isinstance(sim.trainer, DeviceTrainer) else "cpu",
    }


class ChainBars:
    """A rich progress display: chains x generations overall, and the epoch of each running chain.

    It stays silent when output is not a terminal (logs, CI, sweeps to files).
    """

    def __init__(self, name: str, total: int, done: int) -> None:
        console = Console()
        self.display = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self.overall = self.display.add_task(f"{name}: chain-generations", total=total, completed=done)
        self.chains: dict[int, int] = {}

    def __enter__(self) -> ChainBars:
        self.display.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.display.__exit__(*exc)

    def epoch(self, chain: int, generation: int, epoch: int, epochs: int) -> None:
        """The chain's bar shows its generation and epoch."""
        label = f"chain {chain}, generation {generation}: epochs"
        if chain not in self.chains:
            self.chains[chain] = self.display.add_task(label, total=epochs)
        self.display.update(self.chains[chain], description=label, completed=epoch, total=epochs)

    def generation_done(self, chain: int, generation: int) -> None:
        """One more chain-generation done."""
        self.display.advance(self.overall)

    def chain_done(self, chain: int) -> None:
        """The chain's bar goes."""
        if chain in self.chains:
            self.display.remove_task(self.chains.pop(chain))


def run_in_directory(resolved: dict, hydra_cfg, run_dir: Path) -> TrackedStore:
    """Build the simulation, then create or resume its store in ``run_dir`` and run what is left.

    Returns the store with the run's trackers, which are finished once the report exists.
    """
    choices = dict(hydra_cfg.runtime.choices)
    sim = build(resolved, choices)
    plan = sim.chains
    with exclusive(run_dir):
        store, start = RunStore.open_or_create(
            run_dir,
            generations=sim.generations,
            attrs=store_attrs(resolved, hydra_cfg, sim),
            url=resolved.get("store_url"),
            chains=None if plan.vectorised else plan.chains,
        )
        tracked = TrackedStore(store, sim.loggers, run_dir, chains=None if plan.vectorised else plan.chains)
        tracked.start(
            run_dir, name=resolved["name"], config=resolved, overrides=list(hydra_cfg.overrides.task)
        )
        starts = [start] if plan.vectorised else store.chain_starts()
        if start == sim.generations:
            print(f"{run_dir}: all {start} generations are already complete")
        elif any(starts):
            print(f"resuming {run_dir} at generation {min(starts)} of {sim.generations}")
        if not plan.vectorised:
            print(f"{plural(plan.chains, 'chain')}, {plan.workers} at a time")
        total = plan.chains * sim.generations
        with ChainBars(resolved["name"], total, sum(starts)) as bars:
            try:
                run_chains(resolved, choices, sim, tracked, run_dir, starts=starts, progress=bars)
            except OSError as error:  # writing the store itself
                raise RunFailure(
                    f"{describe_fault(error)}. Every complete generation is kept in the store; "
                    f"fix the cause and rerun into {run_dir} to resume"
                ) from None
    return tracked


def report_run(tracked: TrackedStore, run_dir: Path, *, plots: bool) -> None:
    """The summary on the terminal; the plots and ``report.html`` beside the store; the trackers closed."""
    ds = open_run(tracked.store.path)
    summarize(ds, tracked.store.path)
    files = plot_run(ds, run_dir) if plots else []
    for path in files:
        print(f"plot: {path}")
    files.append(write_run_page(ds, run_dir, files))
    print(f"report: {files[-1]}")
    tracked.finish(files)
