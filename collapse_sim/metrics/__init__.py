"""Metrics: each component returns one generation's variables as an ``xarray.Dataset``."""

from __future__ import annotations

import xarray as xr


def variable(dims, values, *, units: str, description: str) -> xr.Variable:
    """A data variable carrying its units and a one-line description."""
    return xr.Variable(dims, values, attrs={"units": units, "description": description})
