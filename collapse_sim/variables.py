"""How a metric declares its variables: units, description, valid range, key rank.

Each variable declares, where the metric makes it, its ``units``, a one-line
``description``, its valid range as CF conventions spell it (``valid_min``,
``valid_max``: intervals drawn or printed for it are kept inside that range),
and whether it is a key variable: ``key`` is its rank in the run's summary,
plots, report and trackers (1 first; the bookkeeping of every run comes last,
from 90). Summaries, reports, trackers and tests read these attributes, never
a list of names.
"""

from __future__ import annotations

import xarray as xr

SHARE, NON_NEGATIVE = (0.0, 1.0), (0.0, None)


def variable(
    dims,
    values,
    *,
    units: str,
    description: str,
    valid: tuple[float | None, float | None] | None = None,
    key: int | None = None,
) -> xr.Variable:
    """A data variable with its units, description, valid range (``SHARE``, ``NON_NEGATIVE``, or
    ``(low, high)`` with None for no bound) and, for a key variable, its rank in summaries."""
    attrs: dict = {"units": units, "description": description}
    low, high = valid or (None, None)
    attrs |= {} if low is None else {"valid_min": low}
    attrs |= {} if high is None else {"valid_max": high}
    attrs |= {} if key is None else {"key": key}
    return xr.Variable(dims, values, attrs=attrs)


def measured(variables: dict, **dataset) -> xr.Dataset:
    """A generation's variables (made by ``variable``) as a dataset; ``dataset``: its coords."""
    return xr.Dataset(variables, **dataset)


def key_variables(ds: xr.Dataset) -> list[str]:
    """The dataset's key variables in their declared order (``key`` rank, then name)."""
    ranked = [(int(da.attrs["key"]), name) for name, da in ds.data_vars.items() if "key" in da.attrs]
    return [name for _, name in sorted(ranked)]
