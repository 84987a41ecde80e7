"""How results become Zarr: the dtype rules, consolidated metadata, and stores written whole or not at all."""

from __future__ import annotations

import os
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import xarray as xr


@contextmanager
def quiet_consolidation():
    # Consolidated metadata is what lets a plain ``xr.open_zarr(path)`` open the
    # store without a fallback warning; zarr warns that it is outside the v3 spec.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        yield


def with_replicate_coordinate(ds: xr.Dataset) -> xr.Dataset:
    """Label the ``replicate`` dimension 0..R-1 where there is one."""
    if "replicate" in ds.dims and "replicate" not in ds.coords:
        return ds.assign_coords(replicate=np.arange(ds.sizes["replicate"]))
    return ds


def as_stored(ds: xr.Dataset) -> xr.Dataset:
    """Numbers as float64 (NaN marks a missing value); text (hashes, labels) as object strings.

    Fixed-width ``<U`` text has no zarr v3 spec (zarr warns), so text variables
    and text coordinates alike are stored as variable-length strings.
    """
    text = [name for name, var in ds.data_vars.items() if var.dtype.kind in "OUST"]  # T: numpy's StringDType
    numeric = ds.drop_vars(text).astype(float)
    stored = xr.merge([numeric, ds[text].astype(object)], combine_attrs="override") if text else numeric
    labels = {
        name: coord.astype(object) for name, coord in stored.coords.items() if coord.dtype.kind in "UST"
    }
    return stored.assign_coords(labels) if labels else stored


def write_whole(dataset: xr.Dataset, target: str | Path, encoding: dict | None = None) -> None:
    """Write ``dataset`` as a consolidated store at ``target``, replacing what is there only once it is whole.

    A kill while zarr writes leaves the metadata unconsolidated, which no
    reader accepts; built beside the target and then renamed over it, such a
    remnant is never taken for the store. A URL (no rename there) is written in place.
    """
    local = Path(target) if isinstance(target, Path) else None
    where = local.with_name(local.name + ".partial") if local else target
    if local:
        shutil.rmtree(where, ignore_errors=True)
    with quiet_consolidation():
        dataset.to_zarr(where, mode="w", consolidated=True, encoding=encoding)
    if local:
        if local.exists():
            shutil.rmtree(local)
        os.replace(where, local)
