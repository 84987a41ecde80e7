"""Run a simulation from Python, in memory, with the same configs as the command line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import xarray as xr
from hydra import compose, initialize_config_dir

from collapse_sim.build import attach_workdir, build
from collapse_sim.checkpoints import NoCheckpoints
from collapse_sim.config import GROUPS, register_schema, validate
from collapse_sim.loop import simulate
from collapse_sim.preflight import normalize
from collapse_sim.store import MemoryStore

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")


def compose_config(overrides: list[str] | None = None, *, config_dir: str = CONFIG_DIR):
    """The composed configuration (with its ``hydra`` node) for command-line style overrides."""
    register_schema()
    with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
        return compose("config", overrides=normalize(list(overrides or [])), return_hydra_config=True)


def run(overrides: list[str] | None = None, *, config_dir: str = CONFIG_DIR) -> xr.Dataset:
    """Simulate in memory and return the results, e.g. ``run(["+experiment=zipf_tail"])``.

    Results stay in memory; files a component needs (YOLO dataset folders and
    weights) go to a temporary directory removed afterwards.  Use the command
    line for stores, plots and resuming.
    """
    cfg = compose_config(overrides, config_dir=config_dir)
    resolved = validate(cfg)
    choices = {k: v for k, v in cfg.hydra.runtime.choices.items() if k in GROUPS}
    sim = build(resolved, choices)
    store = MemoryStore(sim.generations)
    with tempfile.TemporaryDirectory(prefix="collapse_sim_") as workdir:
        attach_workdir(sim, Path(workdir))
        simulate(sim, store, NoCheckpoints(), on_generation=lambda g: None)
    ds = store.dataset()
    ds.attrs["config"] = resolved
    return ds
