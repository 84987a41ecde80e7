"""Run a simulation from Python, in memory, with the same configs as the command line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import xarray as xr

from collapse_sim.chains import QuietProgress, run_chains
from collapse_sim.config import CONFIG_DIR, register_schema
from collapse_sim.hydra_bridge import compose_explained, normalize, with_search_path
from collapse_sim.job import Job, build_job
from collapse_sim.loop import Generation
from collapse_sim.zarr_io import as_stored, with_replicate_coordinate

__all__ = ["CONFIG_DIR", "compose_config", "job", "run", "stack"]


def compose_config(overrides: list[str] | None = None, *, config_dir: str | Path | None = None):
    """The composed configuration (with its ``hydra`` node) for command-line style overrides.

    ``config_dir`` is a folder of your own config groups and experiments, searched
    after the package's (as ``--config-dir`` on the command line).
    """
    register_schema()
    overrides = normalize(list(overrides or []))
    if config_dir is not None:
        overrides = with_search_path(overrides, [str(config_dir)])
    return compose_explained(overrides)


def job(overrides: list[str] | None = None, *, config_dir: str | Path | None = None) -> Job:
    """The job command-line style overrides describe, composed, validated and built (nothing runs)."""
    return build_job(compose_config(overrides, config_dir=config_dir))


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
    built = job(overrides, config_dir=config_dir)
    sim = built.sim
    plan = sim.chains
    with tempfile.TemporaryDirectory(prefix="collapse_sim_") as workdir:
        starts = [0] * plan.chains
        finished = list(
            run_chains(sim, Path(workdir), starts=starts, progress=QuietProgress(), checkpoint=False)
        )
    ds = stack(finished, vectorised=plan.vectorised)
    ds.attrs["config"] = built.resolved
    return ds
