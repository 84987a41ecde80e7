"""Run a simulation from Python, in memory, with the same configs as the command line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import xarray as xr
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException

from collapse_sim.build import build
from collapse_sim.chains import QuietProgress, run_chains
from collapse_sim.config import CONFIG_DIR, GROUPS, option_dirs, register_schema, validate
from collapse_sim.loop import Generation
from collapse_sim.preflight import explain, normalize, with_search_path
from collapse_sim.zarr_io import as_stored, with_replicate_coordinate

__all__ = ["CONFIG_DIR", "compose_config", "run", "stack"]


def compose_config(overrides: list[str] | None = None, *, config_dir: str | Path | None = None):
    """The composed configuration (with its ``hydra`` node) for command-line style overrides.

    ``config_dir`` is a folder of your own config groups and experiments, searched
    after the package's (as ``--config-dir`` on the command line).
    """
    register_schema()
    overrides = normalize(list(overrides or []))
    if config_dir is not None:
        overrides = with_search_path(overrides, [str(config_dir)])
    try:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            return compose("config", overrides=overrides, return_hydra_config=True)
    except HydraException as error:  # explained once Hydra is released: explaining may compose again
        raise explain(error, overrides) from None


def stack(finished: list[Generation], *, vectorised: bool) -> xr.Dataset:
    """Finished generations as one Dataset along ``generation`` (and ``replicate`` for separate chains)."""
    by_generation: dict[int, dict[int, xr.Dataset]] = {}
    for done in finished:
        by_generation.setdefault(done.generation, {})[done.chain] = done.results
    chains = max((len(c) for c in by_generation.values()), default=1)
    generations = sorted(g for g, c in by_generation.items() if len(c) == chains)

    def one(g: int) -> xr.Dataset:
        parts = by_generation[g]
        return parts[0] if vectorised else xr.concat([parts[c] for c in sorted(parts)], dim="replicate")

    stacked = xr.concat(
        [one(g) for g in generations], dim=xr.DataArray(generations, dims="generation", name="generation")
    )
    return with_replicate_coordinate(as_stored(stacked))


def run(overrides: list[str] | None = None, *, config_dir: str | Path | None = None) -> xr.Dataset:
    """Simulate in memory and return the results, e.g. ``run(["+experiment=zipf_tail"])``.

    ``config_dir`` adds a folder of your own configs, as ``--config-dir`` does.
    Detection chains run in spawned worker processes (``workers``); a script that
    calls this needs Python's ``if __name__ == "__main__":`` guard, or ``workers=1``.

    Results stay in memory; files a component needs (YOLO weights) go to a
    temporary directory removed afterwards. Use the command line for stores,
    plots and resuming.
    """
    cfg = compose_config(overrides, config_dir=config_dir)
    resolved = validate(cfg)
    choices = {k: v for k, v in cfg.hydra.runtime.choices.items() if k in GROUPS}
    sim = build(resolved, choices, option_dirs=option_dirs(cfg.hydra.searchpath))
    plan = sim.chains
    with tempfile.TemporaryDirectory(prefix="collapse_sim_") as workdir:
        starts = [0] * plan.chains
        finished = list(
            run_chains(sim, Path(workdir), starts=starts, progress=QuietProgress(), checkpoint=False)
        )
    ds = stack(finished, vectorised=plan.vectorised)
    ds.attrs["config"] = resolved
    return ds
