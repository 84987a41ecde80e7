"""How fast a run collapses: each chain's least-squares change per generation, with a 95 % interval.

A rate is the right summary of a steady decline (or climb); for a curve that
falls and then levels off, read ``generations_to_half`` and the curve itself.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from collapse_sim.intervals import mean_interval


def chain_slopes(da: xr.DataArray) -> np.ndarray:
    """Each chain's least-squares slope of ``da`` (dims ``generation``, ``replicate``) on generation;
    NaN for every chain when there is a single generation (no slope)."""
    values = da.transpose("replicate", "generation").values.astype(float)
    if values.shape[1] < 2:
        return np.full(values.shape[0], np.nan)
    centred = da.generation.values.astype(float)
    centred = centred - centred.mean()
    return ((values - values.mean(axis=1, keepdims=True)) * centred).sum(axis=1) / (centred**2).sum()


def collapse_rate(ds: xr.Dataset, variable: str) -> xr.Dataset:
    """``per_generation[replicate]`` (each chain's least-squares slope against generation, in the variable's
    units per generation), its mean and 95 % Student-t bounds over chains, and ``generations_to_half``
    (the first generation at or below half of generation 0's value; NaN where a chain never gets there).

    Toy families' replicates and detection or text chains are pooled the same way: each is one chain.
    """
    if variable not in ds:
        raise KeyError(f"{variable!r} is not in the dataset; variables: {', '.join(sorted(ds.data_vars))}")
    da = ds[variable]
    extra = [d for d in da.dims if d not in ("generation", "replicate")]
    if extra:
        raise ValueError(
            f"{variable} has dimensions {extra} besides generation and replicate; choose one value of "
            f"each first, e.g. ds.sel({extra[0]}=...), and pass that dataset"
        )
    if da.sizes.get("generation", 0) < 2:
        raise ValueError(
            f"{variable} needs at least 2 generations for a rate, has {da.sizes.get('generation', 0)}"
        )
    if "replicate" not in da.dims:
        da = da.expand_dims(replicate=[0])
    values = da.transpose("replicate", "generation").values.astype(float)
    generations = da.generation.values.astype(float)
    slope = chain_slopes(da)
    mean, low, high, chains = mean_interval(slope)
    reached = values <= values[:, :1] / 2
    to_half = np.where(reached.any(axis=1), generations[reached.argmax(axis=1)], np.nan)
    units = da.attrs.get("units", "1")
    replicate = da.replicate.values
    out = xr.Dataset(
        {
            "per_generation": (
                "replicate",
                slope,
                {"units": f"{units} per generation", "description": f"least-squares change of {variable}"},
            ),
            "per_generation_mean": ((), mean, {"units": f"{units} per generation"}),
            "per_generation_low": (
                (),
                low,
                {"units": f"{units} per generation", "description": "95 % bound"},
            ),
            "per_generation_high": (
                (),
                high,
                {"units": f"{units} per generation", "description": "95 % bound"},
            ),
            "generations_to_half": (
                "replicate",
                to_half,
                {"units": "generations", "description": "first at or below half of gen 0"},
            ),
        },
        coords={"replicate": replicate},
        attrs={
            "variable": variable,
            "chains": chains,
            "chains_reaching_half": int(np.isfinite(to_half).sum()),
        },
    )
    return out
