"""What a run shows a person: a terminal summary and PNG plots next to its store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from collapse_sim.progress import wall_time_line
from collapse_sim.rates import chain_slopes
from collapse_sim.reporting.axes import (
    FAINT_CHAINS,
    apply_honest_limits,
    figure_legend,
    integer_generations,
    labelled,
)
from collapse_sim.reporting.classes import rare_class_lines, rare_class_series
from collapse_sim.reporting.crops import plot_crops
from collapse_sim.reporting.figures import draw_figures
from collapse_sim.reporting.intervals import (
    MIN_CHAINS,
    band,
    format_interval,
    mean_interval,
    no_interval_note,
    plural,
    valid_range,
)
from collapse_sim.reporting.verdict import verdict
from collapse_sim.theory import expected_curves
from collapse_sim.variables import key_variables


def per_chain(da: xr.DataArray, keep: tuple[str, ...] = ()) -> xr.DataArray:
    """One value per generation and chain (and ``keep`` dims): classes, size bins and the like averaged.

    A variable without a ``replicate`` dimension (one chain) gets one of length 1.
    """
    extra = [d for d in da.dims if d not in ("generation", "replicate", *keep)]
    series = da.mean(extra, keep_attrs=True) if extra else da
    return series if "replicate" in series.dims else series.expand_dims(replicate=[0])


def at_first_k(name: str, da: xr.DataArray) -> tuple[str, xr.DataArray]:
    """A variable with a ``k`` dimension (``tail_mass``) at its first ``k``, named with it
    (``tail_mass[k=2]``) wherever a table or plot shows it; any other variable as it is."""
    if "k" not in da.dims:
        return name, da
    da = da.isel(k=0)
    return f"{name}[k={float(da.k):g}]", da


def file_stem(label: str) -> str:
    """The variable's own name in a label from ``at_first_k``: what its plot's file is called."""
    return label.split("[")[0]


def _summary_rows(ds: xr.Dataset):
    """(name, per-chain series) for each key variable, ``tail_mass`` at its first ``k``."""
    for name in key_variables(ds):
        label, da = at_first_k(name, ds[name])
        yield label, per_chain(da)
    yield from rare_class_series(ds)


def summary_table(ds: xr.Dataset) -> list[dict]:
    """Each key value at the first and last generation (mean, 95 % interval, chains), the relative
    change, and the change per generation (``collapse_rate``'s mean slope over chains, its interval)."""
    rows = []
    for name, series in _summary_rows(ds):
        valid = valid_range(series)
        first = mean_interval(series.isel(generation=0).values, valid)
        last = mean_interval(series.isel(generation=-1).values, valid)
        change = (last[0] - first[0]) / abs(first[0]) if first[0] and np.isfinite(last[0]) else np.nan
        rate = mean_interval(chain_slopes(series))[:3]
        row = {"name": name, "first": first[:3], "last": last[:3], "change": change, "rate": rate}
        rows.append(row | {"chains": last[3]})
    return rows


def summarize(
    ds: xr.Dataset, store_path: Path, console: Console | None = None, run_dir: Path | None = None
) -> str:
    """Print (and return) the first and last generation's mean and 95 % interval, the change and rate."""
    console = console or Console(stderr=False, width=None if Console().is_terminal else 150)
    chains = ds.sizes.get("replicate", 1)
    lineages = int((ds.attrs.get("config") or {}).get("lineages", 1))
    of = f" of {lineages} lineages" if lineages > 1 else ""  # chains are the replicates; lineages share one
    name, last = ds.attrs.get("name", "run"), int(ds.generation[-1])
    title = f"{name}: generation 0 -> {last}, {plural(chains, 'chain')}{of}"
    title += " (mean [95 % interval])" if chains >= MIN_CHAINS else " (mean)" if chains > 1 else ""
    table = Table(title=title)
    for column in ("metric", "first", "last", "change", "per generation", "chains"):
        table.add_column(column, justify="right" if column != "metric" else "left")
    for row in summary_table(ds):
        table.add_row(
            escape(row["name"]),
            format_interval(*row["first"]),
            format_interval(*row["last"]),
            f"{row['change']:+.0%}" if np.isfinite(row["change"]) else "n/a",
            format_interval(*row["rate"], digits=3, signed=True),
            str(row["chains"]),
        )
    with console.capture() as captured:
        console.print(table)
    lines = rare_class_lines(ds) + ([no_interval_note(chains)] if 1 < chains < MIN_CHAINS else [])
    lines += [found.sentence() for found in [verdict(ds)] if found]
    lines += [line for line in [wall_time_line(ds, run_dir)] if line]
    extra = "".join(f"{line}\n" for line in lines)
    text = captured.get() + extra + f"store: {store_path}\n"  # plain, so long paths are never wrapped
    console.file.write(text)
    return text


def varies(series: xr.DataArray) -> bool:
    """Whether a variable takes more than one value anywhere (a constant has nothing to plot or compare)."""
    values = np.asarray(series.values, dtype=float)
    finite = values[np.isfinite(values)]
    return finite.size > 0 and float(finite.max() - finite.min()) > 1e-12 * max(1.0, abs(float(finite.max())))


def draw_band(
    ax,
    gens,
    series: xr.DataArray,
    label: str,
    color=None,
    faint: bool = True,
    band_label: str | None = None,
    edges: bool = False,
) -> np.ndarray:
    """Each chain faintly (up to ``FAINT_CHAINS``), the mean (labelled ``label``), and its 95 % band
    across chains (labelled ``band_label``: one legend entry per arm when it is None), shaded, or as its
    two edges (``edges``: where several arms' bands would overlap). Returns every value drawn."""
    values = series.transpose("generation", "replicate").values
    drawn = [values[:, :FAINT_CHAINS]] if faint and values.shape[1] > 1 else []
    if drawn:
        lines = ax.plot(gens, drawn[0], color=color or "C0", alpha=0.25, lw=0.7)
        lines[0].set_label("each chain")
    mean, low, high = band(series)
    line = ax.plot(gens, mean, color=color, lw=1.8, label=label)[0]
    drawn.append(mean)
    if values.shape[1] >= MIN_CHAINS:  # with fewer, the chains and their mean are drawn, no t-band
        if edges:
            ax.plot(gens, np.c_[low, high], color=line.get_color(), lw=0.8, ls=(0, (2, 2)), alpha=0.8)
        else:
            alpha = 0.2 if band_label else 0.12  # arms' bands overlap: lighter
            ax.fill_between(gens, low, high, color=line.get_color(), alpha=alpha, lw=0, label=band_label)
        drawn += [low, high]
    return np.concatenate([np.ravel(d) for d in drawn])


def plot_run(ds: xr.Dataset, folder: Path) -> list[Path]:
    """PNG plots: a grid of the key curves (chains faint, mean and 95 % band, theory where known).

    Panels whose values never change in the run (the label precision of
    rendered scenes, say) are left out.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    theory = expected_curves(ds.attrs["config"]) if "config" in ds.attrs else {}
    panels = [(n, ds[n]) for n in key_variables(ds) if n != "train_size"]
    panels += [(name, series) for name, series in rare_class_series(ds)]
    panels = [(n, da) for n, da in panels if varies(da)]
    if not panels:
        return []
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.3 * columns, 2.9 * rows + 0.5), squeeze=False, sharex=True
    )
    gens = ds.generation.values
    chains = ds.sizes.get("replicate", 1)
    mean_label = "mean of the chains" if chains > 1 else "the chain"
    for ax, (name, da) in zip(axes.flat, panels, strict=False):
        interval = "95 % interval" if chains >= MIN_CHAINS else None
        if "k" in da.dims:
            drawn = [
                draw_band(ax, gens, per_chain(da.sel(k=k)), f"k={float(k):g} sigma", f"C{i + 1}", False)
                for i, k in enumerate(da.k.values)
            ]
        else:
            drawn = [draw_band(ax, gens, per_chain(da), mean_label, color="C0", band_label=interval)]
        if name in theory:
            drawn.append(
                ax.plot(gens, theory[name][gens], "k--", label="theory: expected value")[0].get_ydata()
            )
        if f"{name}_geometric_mean" in theory:
            typical = theory[f"{name}_geometric_mean"][gens]
            drawn.append(ax.plot(gens, typical, "k:", label="theory: typical chain")[0].get_ydata())
        apply_honest_limits(ax, np.concatenate([np.ravel(d) for d in drawn]), valid_range(da))
        ax.set_title(labelled(name, da.attrs.get("units")), fontsize=9)
        integer_generations(ax)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax in axes.flat[max(0, len(panels) - columns) : len(panels)]:  # the lowest panel of each column
        ax.tick_params(labelbottom=True)  # sharex shows them on the bottom row only, empty or not
        ax.set_xlabel("generation", fontsize=8)
    if chains >= MIN_CHAINS:
        faint = "each faint" if chains <= FAINT_CHAINS else f"the first {FAINT_CHAINS} faint"
        what = f"{chains} chains: {faint}, mean and 95 % interval"
    else:
        what = f"{no_interval_note(chains)}; each faint, and their mean" if chains > 1 else "one chain"
    fig.suptitle(f"{ds.attrs.get('name', 'run')}: {what}", fontsize=10)
    figure_legend(fig, axes)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    written = [Path(folder) / "curves.png"]
    fig.savefig(written[0], dpi=100)
    plt.close(fig)
    written += draw_figures(ds, Path(folder), plt)  # what the variables declare
    crops = plot_crops(ds, Path(folder), plt)  # the pictures a generator kept, where it keeps any
    return written + ([crops] if crops else [])
