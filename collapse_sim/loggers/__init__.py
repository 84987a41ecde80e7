"""Experiment trackers a run reports to (``logger=mlflow``, ``logger=tensorboard``, or both as a list).

Each is imported only when chosen. The run's parent process, the one writer of
the store, drives them: ``start`` once (a resumed run continues the same
tracker run), ``log`` for each generation once every chain has finished it,
``finish`` with the plots and the HTML report at the end.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import xarray as xr

from collapse_sim.errors import ConfigError
from collapse_sim.lineages import each_chain

TRACKERS_EXTRA = 'pip install -e ".[trackers]"'
OUTPUTS = "outputs"  # where runs go; trackers that compare runs keep one store for all of them here


def sweep_of(run_dir: Path) -> Path | None:
    """The sweep folder a job's run directory belongs to (its ``multirun.yaml`` beside the job folders)."""
    parent = Path(run_dir).resolve().parent
    return parent if (parent / "multirun.yaml").is_file() else None


def outputs_of(run_dir: Path) -> Path:
    """The folder that holds every run: the nearest ``outputs`` above the run (Hydra's default layout),
    else the folder that holds the run (or its sweep)."""
    run_dir = Path(run_dir).resolve()
    found = next((p for p in run_dir.parents if p.name == OUTPUTS), None)
    return found or (sweep_of(run_dir) or run_dir).parent


def require(module: str, key: str, what: str) -> None:
    """Stop before any work, naming the extra to install, when ``module`` is not installed.

    ``key`` is relative to the logger's own node (``""`` names the logger itself).
    """
    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            key, f"needs {what}, which is not installed; install the trackers extra: {TRACKERS_EXTRA}"
        )


def scalars(ds: xr.Dataset, *, per_chain: bool) -> dict[str, float]:
    """A generation's numeric scalars: per chain (``chain_00/map50``) and their mean (``mean/map50``).

    Variables with other dimensions (classes, size bins) stay in the store and
    the report; vectorised toy runs log means only (hundreds of replicates).
    """
    out: dict[str, float] = {}
    for name, da in each_chain(ds).data_vars.items():
        if da.dtype.kind not in "fiub" or name == "completed" or set(da.dims) - {"replicate"}:
            continue
        values = np.atleast_1d(np.asarray(da.values, dtype=float))
        finite = values[np.isfinite(values)]
        if finite.size:
            out[f"mean/{name}"] = float(finite.mean())
        if per_chain and "replicate" in da.dims:
            for chain, value in enumerate(values):
                if math.isfinite(value):
                    out[f"chain_{chain:02d}/{name}"] = float(value)
    return out
