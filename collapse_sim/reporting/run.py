"""What a run shows a person: a terminal summary and PNG plots next to its store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from collapse_sim.metrics import key_variables
from collapse_sim.progress import wall_time_line
from collapse_sim.rates import chain_slopes
from collapse_sim.reporting.crops import plot_crops
from collapse_sim.reporting.detection import plot_class_ap, plot_samples, rare_class_lines, rare_class_series
from collapse_sim.reporting.intervals import (
    MIN_CHAINS,
    band,
    format_interval,
    mean_interval,
    no_interval_note,
    plural,
    valid_range,
)
from collapse_sim.theory import expected_curves

FAINT_CHAINS = 40  # more chains than this are drawn as their band only


def per_chain(da: xr.DataArray, keep: tuple[str, ...] = ()) -> xr.DataArray:
    """One value per generation and chain (and ``keep`` dims): classes, size bins and the like averaged.

    A variable without a ``replicate`` dimension (one chain) gets one of length 1.
    """
    extra = [d for d in da.dims if d not in ("generation", "replicate", *keep)]
    series = da.mean(extra, keep_attrs=True) if extra else da
    return series if "replicate" in series.dims else series.expand_dims(replicate=[0])


def _summary_rows(ds: xr.Dataset):
    """(name, per-chain series) for each key variable, ``tail_mass`` at its first ``k``."""
    for name in key_variables(ds):
        da = ds[name]
        if "k" in da.dims:
            da = da.isel(k=0)
            name = f"{name}[k={float(da.k):g}]"
        yield name, per_chain(da)
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
    title = (
        f"{ds.attrs.get('name', 'run')}: generation 0 -> {int(ds.generation[-1])}, {plural(chains, 'chain')}"
    )
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
    lines += [line for line in [wall_time_line(ds, run_dir)] if line]
    extra = "".join(f"{line}\n" for line in lines)
    text = captured.get() + extra + f"store: {store_path}\n"  # plain, so long paths are never wrapped
    console.file.write(text)
    return text


def _varies(series: xr.DataArray) -> bool:
    values = np.asarray(series.values, dtype=float)
    finite = values[np.isfinite(values)]
    return finite.size > 0 and float(finite.max() - finite.min()) > 1e-12 * max(1.0, abs(float(finite.max())))


def draw_band(ax, gens, series: xr.DataArray, label: str, color=None, faint: bool = True) -> None:
    """Each chain faintly (up to ``FAINT_CHAINS``), the mean, and its 95 % band across chains."""
    values = series.transpose("generation", "replicate").values
    if faint and values.shape[1] > 1:
        ax.plot(gens, values[:, :FAINT_CHAINS], color=color or "C0", alpha=0.25, lw=0.7)
    mean, low, high = band(series)
    line = ax.plot(gens, mean, color=color, lw=1.8, label=f"{label}: mean" if values.shape[1] > 1 else label)[
        0
    ]
    if values.shape[1] >= MIN_CHAINS:  # with fewer, the chains and their mean are drawn, no t-band
        ax.fill_between(gens, low, high, color=line.get_color(), alpha=0.2, label="95 % interval")


def plot_run(ds: xr.Dataset, folder: Path) -> list[Path]:
    """PNG plots: a grid of the key curves (chains faint, mean and 95 % band, theory where known).

    Panels whose values never change in the run (the label precision of
    rendered scenes, say) are left out.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    theory = expected_curves(ds.attrs["config"]) if "config" in ds.attrs else {}
    panels = [(n, ds[n]) for n in key_variables(ds) if n != "train_size"]
    panels += [(name, series) for name, series in rare_class_series(ds)]
    panels = [(n, da) for n, da in panels if _varies(da)]
    if not panels:
        return []
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.3 * columns, 2.9 * rows), squeeze=False, sharex=True)
    gens = ds.generation.values
    chains = ds.sizes.get("replicate", 1)
    for ax, (name, da) in zip(axes.flat, panels, strict=False):
        if "k" in da.dims:
            for i, k in enumerate(da.k.values):
                draw_band(ax, gens, per_chain(da.sel(k=k)), f"k={float(k):g}", color=f"C{i}", faint=False)
        else:
            draw_band(ax, gens, per_chain(da), "simulated", color="C0")
        if name in theory:
            ax.plot(gens, theory[name][gens], "k--", label="theory: expected value")
        if f"{name}_geometric_mean" in theory:
            ax.plot(gens, theory[f"{name}_geometric_mean"][gens], "k:", label="theory: typical chain")
        units = da.attrs.get("units", "")
        ax.set_title(f"{name} [{units}]" if units else name, fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("generation", fontsize=8)
    if chains >= MIN_CHAINS:
        what = f"{chains} chains: each faint, mean and 95 % interval"
    else:
        what = f"{no_interval_note(chains)}; each faint, and their mean" if chains > 1 else "one chain"
    fig.suptitle(f"{ds.attrs.get('name', 'run')}: {what}", fontsize=10)
    fig.tight_layout()
    written = [Path(folder) / "curves.png"]
    fig.savefig(written[0], dpi=100)
    plt.close(fig)
    if "class_frequency" in ds:
        written.append(_class_heatmap(ds, Path(folder) / "class_frequency.png", plt))
    if "ap50_95" in ds:
        written.append(plot_class_ap(ds, Path(folder) / "ap_per_class.png", plt))
        samples = plot_samples(ds, Path(folder), plt)
        crops = plot_crops(ds, Path(folder), plt)
        written += [picture for picture in (samples, crops) if picture]
    return written


def _class_heatmap(ds: xr.Dataset, path: Path, plt) -> Path:
    freq = ds["class_frequency"]
    freq = (freq.mean("replicate") if "replicate" in freq.dims else freq).transpose("class", "generation")
    fig, ax = plt.subplots(figsize=(8, max(3, 0.15 * freq.sizes["class"])))
    gens = freq.generation.values
    image = ax.imshow(
        np.log10(freq.values + 1e-6),
        aspect="auto",
        origin="lower",
        cmap="viridis",
        extent=(gens[0] - 0.5, gens[-1] + 0.5, -0.5, freq.sizes["class"] - 0.5),
    )
    ax.set_xticks(gens[:: max(1, len(gens) // 12)])
    ax.set_yticks(range(freq.sizes["class"]), [str(c) for c in freq["class"].values], fontsize=5)
    ax.set_xlabel("generation")
    fig.colorbar(image, label="log10 class share in training data")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
