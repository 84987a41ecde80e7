"""The rarest classes of a run: which they are, and the summary series variables declare for them
(``variables.Rarest``)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from collapse_sim.variables import declaring, over, rarest_series


def rarest_quarter(ds: xr.Dataset) -> list[str]:
    """The rarest quarter of classes (at least one) by their share in generation 0's data, as the variable
    that declares ``ranks_classes`` gives it; none without such a variable."""
    ranking = declaring(ds, "ranks_classes")
    if not ranking:
        return []
    shares = ds[ranking[0]].isel(generation=0)
    dim = over(shares)
    shares = shares.mean([d for d in shares.dims if d != dim])  # over chains (and arms of a sweep)
    k = max(1, int(np.ceil(shares.sizes[dim] / 4)))
    order = np.argsort(shares.values, kind="stable")[:k]
    return [str(c) for c in shares[dim].values[order]]


def rare_class_series(ds: xr.Dataset):
    """(name, per-chain series) of every declared ``Rarest`` series: the rarest quarter's values of a
    variable over the classes (ranked by the variable that declares ``ranks_classes``), summed or
    averaged."""
    ranking = set(declaring(ds, "ranks_classes"))
    declared = sorted(rarest_series(ds), key=lambda d: d[0] not in ranking)  # the ranking shares first
    rare = rarest_quarter(ds) if declared else []
    if not rare:
        return
    for variable, rarest in declared:
        da = ds[variable]
        dim = over(da)
        series = getattr(da.sel({dim: rare}), rarest.combine)(dim)
        series = series if "replicate" in series.dims else series.expand_dims(replicate=[0])
        series.attrs = {
            "units": "1",
            "description": f"rarest quarter ({', '.join(rare)}): {rarest.description}",
            "valid_min": 0.0,
            "valid_max": 1.0,
            "format": rarest.format,
        }
        yield rarest.name, series


def rare_class_lines(ds: xr.Dataset) -> list[str]:
    """One line each for the rarest quarter's training share and test AP, first vs last generation.

    With several chains each value is their mean with its 95 % interval.
    """
    from collapse_sim.reporting.intervals import mean_interval, valid_range

    lines = []
    for _, series in rare_class_series(ds):
        fmt = series.attrs["format"]
        values = []
        for generation in (0, -1):
            mean, low, high, n = mean_interval(series.isel(generation=generation).values, valid_range(series))
            bounds = f" [{fmt.format(low)}, {fmt.format(high)}]" if np.isfinite(low) else ""
            values.append((mean, fmt.format(mean) + bounds if np.isfinite(mean) else "n/a"))
        (first, first_text), (last, last_text) = values
        change = f" ({(last - first) / first:+.0%})" if first and np.isfinite(last) else ""
        chains = f", {series.sizes['replicate']} chains" if series.sizes["replicate"] > 1 else ""
        lines.append(f"{series.attrs['description']} {first_text} -> {last_text}{change}{chains}")
    return lines
