"""Run a simulation from Python, in memory, with the same configs as the command line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import xarray as xr
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException

from collapse_sim.build import attach_workdir, build
from collapse_sim.checkpoints import NoCheckpoints
from collapse_sim.config import CONFIG_DIR, GROUPS, register_schema, validate
from collapse_sim.loop import simulate
from collapse_sim.preflight import explain, normalize, with_search_path
from collapse_sim.store import MemoryStore

__all__ = ["CONFIG_DIR", "compose_config", "run"]


def compose_config(overrides: list[str] | None = None, *, config_dir: str | Path | None = None):
    """The composed configuration (with its ``hydra`` node) for command-line style overrides.

    ``config_dir`` is a folder of your own config groups and experiments, searched
    after the package's (as ``--config-dir`` on the command line).
    """
    register_schema()
    overrides = normalize(list(overrides or []))
    if config_dir is not None:
        overrides = with_search_path(overrides, [str(config_dir)])
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        try:
            return compose("config", overrides=overrides, return_hydra_config=True)
        except HydraException as error:
            raise explain(error, CONFIG_DIR, overrides) from None


def run(overrides: list[str] | None = None, *, config_dir: str | Path | None = None) -> xr.Dataset:
    """Simulate in memory and return the results, e.g. ``run(["+experiment=zipf_tail"])``.

    ``config_dir`` adds a folder of your own configs, as ``--config-dir`` does.

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
