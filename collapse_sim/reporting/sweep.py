"""A whole sweep at once: its combined Zarr store, tables and plots across the swept settings.

``collapse_sim/report.py`` (``collapse-sim-report <sweep dir>``, and a
multirun when it ends) reads every job with ``open_sweep`` (failed or
unfinished jobs are NaN, with a warning naming them), a swept ``seed`` folded
into ``replicate`` (both independent chains). ``arm_rows`` gives each arm's key
variables at the last generation; ``comparisons`` each arm of the first swept
setting minus the first arm with a 95 % Welch interval and the chains per arm
(also in ``sweep_comparison.csv`` and the store's ``comparison`` attribute),
with each arm's change per generation beside it. ``write_sweep_store`` writes
``<sweep dir>/sweep.zarr``; ``plot_sweep`` one ``sweep_<variable>.png`` per key
variable: mean and 95 % band per arm, one panel per combination of the other
settings. A numeric setting (``mixing.real_fraction=0,0.05,0.1,0.2,0.5``; of
several, the one with the most values) also gets ``dose_response.png``: the last
generation's value and the change per generation against the setting, with bands.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import xarray as xr
from rich.console import Console
from rich.table import Table

from collapse_sim.rates import chain_slopes
from collapse_sim.reporting import COMPARISON_COLUMNS
from collapse_sim.reporting.axes import apply_honest_limits, figure_legend, integer_generations, labelled
from collapse_sim.reporting.intervals import (
    band,
    format_interval,
    mean_interval,
    valid_range,
    welch_difference,
)
from collapse_sim.sweep import FIXED_DIMS, fold_seeds
from collapse_sim.variables import figures, key_variables
from collapse_sim.zarr_io import as_stored, write_whole

SWEEP_STORE = "sweep.zarr"
COMPARISON_FILE = "sweep_comparison.csv"


def swept_dims(ds: xr.Dataset) -> list[str]:
    """The dimensions that ``open_sweep`` made from swept settings (its ``swept`` record; a store
    without one: every dimension but the fixed ones and the metrics' own)."""
    if "swept" in ds.attrs:
        return [d for d in ds.attrs["swept"] if d in ds.dims]
    return [d for d in ds.dims if d not in FIXED_DIMS and d != "size_bin"]


def write_sweep_store(ds: xr.Dataset, folder: Path) -> Path:
    """Write the sweep as ``folder/sweep.zarr``; an older one is replaced only once the new one is whole."""
    path = Path(folder) / SWEEP_STORE
    stored = as_stored(ds)
    stored.attrs = {k: v for k, v in ds.attrs.items() if k != "config"}  # per-job configs differ
    for name in stored.variables:
        stored[name].encoding = {}
    write_whole(stored, path)
    return path


def _variables(ds: xr.Dataset):
    """(name, per-chain series per arm) of every key variable that varies somewhere in the sweep, and the
    rarest quarter's share and AP."""
    from collapse_sim.reporting.classes import rare_class_series
    from collapse_sim.reporting.run import at_first_k, per_chain, varies

    swept = tuple(swept_dims(ds))
    for name in key_variables(ds):
        if name != "train_size" and varies(ds[name]):
            label, da = at_first_k(name, ds[name])
            yield label, per_chain(da, keep=swept)
    yield from rare_class_series(ds)  # needs every generation: the rarest quarter is generation 0's


def comparisons(ds: xr.Dataset) -> list[dict]:
    """Each arm of the first swept setting against its first arm: at the last generation, and in its
    change per generation (each chain's least-squares slope, as ``collapse_rate``).

    Seeds are pooled with replicates (both independent chains); each difference
    of means has a 95 % Welch interval. Other swept settings are held fixed,
    one block per combination.
    """
    ds = fold_seeds(ds)
    dims = [d for d in swept_dims(ds) if d != "replicate"]
    if not dims:
        return []
    arm_dim, others = dims[0], dims[1:]
    arms = list(ds[arm_dim].values)
    rows = []
    for combo in itertools.product(*(ds[d].values for d in others)) or [()]:
        fixed = dict(zip(others, combo, strict=True))
        for name, whole in _variables(ds.sel(fixed) if fixed else ds):
            series = whole.isel(generation=-1)
            reference = series.sel({arm_dim: arms[0]}).values
            reference_rate = chain_slopes(whole.sel({arm_dim: arms[0]}))
            for arm in arms[1:]:
                values = series.sel({arm_dim: arm}).values
                difference, low, high = welch_difference(values, reference)
                rate = chain_slopes(whole.sel({arm_dim: arm}))
                rate_difference, rate_low, rate_high = welch_difference(rate, reference_rate)
                rows.append(
                    {
                        "variable": name,
                        **{d: _plain(v) for d, v in fixed.items()},
                        "arm": f"{arm_dim}={_plain(arm)}",
                        "reference": f"{arm_dim}={_plain(arms[0])}",
                        "mean_arm": mean_interval(values)[0],
                        "mean_reference": mean_interval(reference)[0],
                        "difference": difference,
                        "low": low,
                        "high": high,
                        "chains_arm": int(np.isfinite(values).sum()),
                        "chains_reference": int(np.isfinite(reference).sum()),
                        "rate_arm": mean_interval(rate)[0],
                        "rate_reference": mean_interval(reference_rate)[0],
                        "rate_difference": rate_difference,
                        "rate_low": rate_low,
                        "rate_high": rate_high,
                    }
                )
    return rows


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def print_comparisons(rows: list[dict], generation: int) -> None:
    """The comparison table on the terminal."""
    if not rows:
        return
    fixed = [k for k in rows[0] if k not in COMPARISON_COLUMNS]
    table = Table(title=f"generation {generation}: each arm minus the reference, 95 % Welch interval")
    columns = ["variable", *fixed, "arm", "reference", "difference [95 %]", "per generation [95 %]", "chains"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("variable", "arm", "reference") else "right")
    for row in rows:
        interval = format_interval(row["difference"], row["low"], row["high"], digits=3)
        rate = format_interval(
            row["rate_difference"], row["rate_low"], row["rate_high"], digits=3, signed=True
        )
        table.add_row(
            row["variable"],
            *(str(row[k]) for k in fixed),
            row["arm"],
            row["reference"],
            interval,
            rate,
            f"{row['chains_arm']} vs {row['chains_reference']}",
        )
    Console(width=None if Console().is_terminal else 150).print(table)


def arm_rows(ds: xr.Dataset, shown: int = 4) -> list[dict]:
    """Each arm (a combination of the swept settings, seeds pooled) at the last generation: the first
    ``shown`` key variables' means with 95 % intervals over its chains (NaN where its jobs failed)."""
    ds = fold_seeds(ds)
    dims = [d for d in swept_dims(ds) if d != "replicate"]
    names = [n for n, _ in _variables(ds)][:shown]
    series = dict(_variables(ds))
    rows = []
    for combo in itertools.product(*(list(ds[d].values) for d in dims)):
        where = dict(zip(dims, combo, strict=True))
        row = {"arm": " ".join(f"{d}={_plain(v)}" for d, v in where.items()) or "(one arm)"}
        for name in names:
            last = series[name].sel(where).isel(generation=-1)
            row[name] = mean_interval(last.values, valid_range(series[name]))
        rows.append(row)
    return rows


def print_arms(rows: list[dict], generation: int) -> None:
    """The arms table on the terminal: each arm's key variables at the last generation."""
    if not rows:
        return
    names = [k for k in rows[0] if k != "arm"]
    table = Table(title=f"generation {generation}: each arm's mean [95 % interval] over its chains")
    table.add_column("arm")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("chains", justify="right")
    for row in rows:
        chains = max(row[n][3] for n in names) if names else 0
        table.add_row(row["arm"], *(format_interval(*row[n][:3]) for n in names), str(chains))
    Console(width=None if Console().is_terminal else 150).print(table)


def plot_sweep(ds: xr.Dataset, folder: Path) -> list[Path]:
    """One PNG per key variable: mean and 95 % band per arm of the first swept setting (seeds pooled),
    one panel per combination of the other settings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from collapse_sim.reporting.run import draw_band, file_stem

    ds = fold_seeds(ds)
    dims = [d for d in swept_dims(ds) if d != "replicate"]
    hue, panels = (dims[0], dims[1:]) if dims else (None, [])
    combos = list(itertools.product(*(ds[d].values for d in panels))) or [()]
    written = []
    for name, series in _variables(ds):
        fig, axes = plt.subplots(1, len(combos), figsize=(4.6 * len(combos), 3.8), squeeze=False, sharey=True)
        drawn = []
        for ax, combo in zip(axes[0], combos, strict=True):
            da = series.sel(dict(zip(panels, combo, strict=True)))
            arms = ds[hue].values if hue else [None]
            for i, value in enumerate(arms):
                line = da.sel({hue: value}) if hue else da
                label = f"{hue}={_plain(value)}" if hue else name
                edges = len(arms) >= 3  # three shaded bands and more become one colour: edges instead
                drawn.append(draw_band(ax, ds.generation.values, line, label, f"C{i}", False, edges=edges))
            ax.set_title(", ".join(f"{d}={v}" for d, v in zip(panels, combo, strict=True)), fontsize=8)
            ax.set_xlabel("generation")
            integer_generations(ax)
        apply_honest_limits(axes[0, 0], np.concatenate(drawn), valid_range(series))  # y is shared
        chains = series.sizes.get("replicate", 1)
        axes[0, 0].set_ylabel(labelled(name, series.attrs.get("units")))
        per_row = max(1, int(fig.get_figwidth() // 2.3))
        figure_legend(fig, axes, ncol=per_row)  # one entry per arm, below the panels
        arms = ds.sizes.get(hue, 1) if hue else 1
        band = "dashed: its 95 % interval" if arms >= 3 else "shaded: its 95 % interval"
        fig.suptitle(f"{name}: mean of {chains} chains per arm\n{band}", fontsize=9)  # fits one panel
        rows = -(-arms // per_row)
        fig.tight_layout(rect=(0, 0.07 * rows + 0.02, 1, 1))
        path = Path(folder) / f"sweep_{file_stem(name)}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def plot_sweep_histograms(ds: xr.Dataset, folder: Path) -> list[Path]:
    """Each declared histogram (``Figure`` of kind ``histogram``): one panel per arm, generations as
    colours (chains and seeds pooled); none for a sweep without one."""
    declared = figures(ds, "histogram")
    if not declared:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from collapse_sim.reporting.figures import draw_histograms

    ds = fold_seeds(ds)
    dims = [d for d in swept_dims(ds) if d != "replicate"]
    arms = list(itertools.product(*(ds[d].values for d in dims))) or [()]
    written = []
    for name, figure in declared:
        fig, axes = plt.subplots(1, len(arms), figsize=(5.2 * len(arms), 3.9), squeeze=False, sharey=True)
        for ax, arm in zip(axes[0], arms, strict=True):
            draw_histograms(ax, ds[name].sel(dict(zip(dims, arm, strict=True))), figure, plt)
            ax.set_title(", ".join(f"{d}={_plain(v)}" for d, v in zip(dims, arm, strict=True)), fontsize=8)
        chains = ds.sizes.get("replicate", 1)
        fig.suptitle(f"{figure.title}: mean of {chains} chains per arm", fontsize=9)
        fig.tight_layout()
        path = Path(folder) / f"{figure.file}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def _rate_scale(last: xr.DataArray, generations: int) -> np.ndarray:
    """The least span a rate axis shows, both sides of zero: the change per generation that would move
    the variable by a quarter of its largest level over the run, so a negligible slope looks negligible."""
    level = float(np.nanmax(np.abs(last.mean("replicate").values), initial=0.0))
    scale = 0.25 * level / max(generations - 1, 1)
    return np.array([-scale, 0.0, scale])


def dose_setting(ds: xr.Dataset) -> tuple[str | None, dict]:
    """The swept setting a dose-response plot runs along, the numeric one with the most values (the
    first on a tie), and the values the other swept settings are held at (each one's first); (None,
    {}) when no swept setting is numeric with two values or more."""
    ds = fold_seeds(ds)
    dims = [d for d in swept_dims(ds) if d != "replicate"]
    numeric = [d for d in dims if ds[d].dtype.kind in "iuf" and ds.sizes[d] >= 2]
    if not numeric:
        return None, {}
    setting = max(numeric, key=lambda d: ds.sizes[d])
    return setting, {d: _plain(ds[d].values[0]) for d in dims if d != setting}


def plot_dose_response(ds: xr.Dataset, folder: Path) -> Path | None:
    """Along the numeric swept setting with the most values (``dose_setting``; ``n_samples=20,...,10000``
    on a log axis when it spans two decades): each key variable's last-generation value and its change
    per generation, mean and 95 % band over chains (seeds pooled), one column per variable, the other
    settings held at their first value; None for a sweep without a numeric setting."""
    ds = fold_seeds(ds)
    setting, held = dose_setting(ds)
    if setting is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    flat = ds.isel({d: 0 for d in held}) if held else ds
    doses = flat[setting].values.astype(float)
    logarithmic = doses.min() > 0 and doses.max() >= 100 * doses.min()
    series = list(_variables(flat))
    fig, axes = plt.subplots(2, len(series), figsize=(3.2 * len(series), 5.4), squeeze=False)
    for column, (name, da) in enumerate(series):
        last = da.isel(generation=-1).transpose(setting, "replicate")
        rates = xr.DataArray(
            np.array([chain_slopes(da.sel({setting: d})) for d in flat[setting].values]),
            dims=(setting, "replicate"),
        )
        for row, (values, what) in enumerate(((last, "last generation"), (rates, "per generation"))):
            ax = axes[row, column]
            mean, low, high = band(values)
            ax.plot(doses, mean, "o-", color="C0", lw=1.6)
            ax.fill_between(doses, low, high, color="C0", alpha=0.2)
            shown = [mean, low, high]
            if row == 1:  # a rate may be negative; zero is drawn, and the axis is scaled to what matters
                ax.axhline(0, color="0.55", lw=0.8, zorder=0)
                shown.append(_rate_scale(last, ds.sizes["generation"]))
            apply_honest_limits(ax, np.concatenate(shown), valid_range(da) if row == 0 else (-np.inf, np.inf))
            # Plain tick labels: an offset such as "1e-5" above the axis would crowd the title.
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
            ax.set_title(f"{labelled(name, da.attrs.get('units'))}: {what}", fontsize=8)
            ax.set_xlabel(setting, fontsize=8)
            ax.set_xscale("log" if logarithmic else "linear")
            ax.tick_params(labelsize=7)
    chains = ds.sizes.get("replicate", 1)
    at = "".join(f", {d}={v}" for d, v in held.items())
    fig.suptitle(
        f"dose-response: mean and 95 % interval\nof {chains} chains at each {setting}{at}", fontsize=9
    )
    fig.tight_layout()
    path = Path(folder) / "dose_response.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_comparisons(rows: list[dict], folder: Path) -> Path | None:
    """The comparison table as ``sweep_comparison.csv`` beside the sweep store."""
    if not rows:
        return None
    path = Path(folder) / COMPARISON_FILE
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
