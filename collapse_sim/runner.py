"""One run on disk: lock its directory, open or resume its store, run the loop with a progress bar."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
from contextlib import contextmanager
from pathlib import Path

from omegaconf import OmegaConf
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from collapse_sim import __version__
from collapse_sim.build import Simulation, attach_workdir, build
from collapse_sim.checkpoints import Checkpoints
from collapse_sim.errors import ConfigError
from collapse_sim.loop import simulate
from collapse_sim.protocols import DeviceTrainer
from collapse_sim.store import RunStore


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


def run_in_directory(resolved: dict, hydra_cfg, run_dir: Path) -> RunStore:
    """Build the simulation, then create or resume its store in ``run_dir`` and run what is left."""
    sim = build(resolved, dict(hydra_cfg.runtime.choices))
    with exclusive(run_dir):
        store, start = RunStore.open_or_create(
            run_dir,
            generations=sim.generations,
            attrs=store_attrs(resolved, hydra_cfg, sim),
            url=resolved.get("store_url"),
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
    return store
