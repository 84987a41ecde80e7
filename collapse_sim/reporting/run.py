"""What a run shows a person: a terminal summary and PNG plots next to its store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from collapse_sim.reporting import KEY_VARIABLES
from collapse_sim.reporting.detection import plot_class_ap, plot_samples, rare_class_lines
from collapse_sim.theory import expected_curves


def _per_generation(da: xr.DataArray) -> xr.DataArray:
    """Average over replicates, and over other dims except ``k`` (kept as separate lines)."""
    dims = [d for d in da.dims if d not in ("generation", "k")]
    return da.mean(dims)


def summarize(ds: xr.Dataset, store_path: Path, console: Console | None = None) -> str:
    """Print (and return) what changed from the first generation to the last."""
    console = console or Console(stderr=False)
    table = Table(title=f"{ds.attrs.get('name', 'run')}: generation 0 -> {int(ds.generation[-1])}")
    replicated = "replicate" in ds.dims
    columns = ("metric", "first", "last", "change") + (("last median",) if replicated else ())
    for column in columns:
        table.add_column(column, justify="right" if column != "metric" else "left")
    for name in KEY_VARIABLES:
        if name not in ds:
            continue
        da = ds[name]
        if "k" in da.dims:
            da = da.isel(k=0)
            name = f"{name}[k={float(da.k):g}]"
        series = _per_generation(da)
        first, last = float(series[0]), float(series[-1])
        change = f"{(last - first) / abs(first):+.0%}" if first and np.isfinite(last) else "n/a"
        median = f"{float(da.isel(generation=-1).median()):.4g}" if "replicate" in da.dims else ""
        table.add_row(escape(name), f"{first:.4g}", f"{last:.4g}", change, *((median,) if replicated else ()))
    with console.capture() as captured:
        console.print(table)
    extra = "".join(f"{line}\n" for line in rare_class_lines(ds))
    text = captured.get() + extra + f"store: {store_path}\n"  # plain, so long paths are never wrapped
    console.file.write(text)
    return text


def plot_run(ds: xr.Dataset, folder: Path) -> list[Path]:
    """PNG plots of the key curves: replicate mean and median, 10-90 % band, theory where known."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    theory = expected_curves(ds.attrs["config"]) if "config" in ds.attrs else {}
    names = [n for n in KEY_VARIABLES if n in ds and n != "train_size"]
    fig, axes = plt.subplots(len(names), 1, figsize=(7, 2.6 * len(names)), squeeze=False, sharex=True)
    gens = ds.generation.values
    for ax, name in zip(axes[:, 0], names, strict=True):
        da = ds[name]
        for label, series in _lines(da):
            if "replicate" not in series.dims:
                ax.plot(gens, series, label=label)
                continue
            line = ax.plot(gens, series.mean("replicate"), label=f"{label} mean")[0]
            if series.sizes["replicate"] > 1:
                ax.plot(
                    gens,
                    series.median("replicate"),
                    ":",
                    color=line.get_color(),
                    label=f"{label} median",
                )
                low, high = series.quantile([0.1, 0.9], dim="replicate").values
                ax.fill_between(gens, low, high, color=line.get_color(), alpha=0.15)
        if name in theory:
            ax.plot(gens, theory[name][gens], "k--", label="theory: expected value")
        if f"{name}_geometric_mean" in theory:
            ax.plot(gens, theory[f"{name}_geometric_mean"][gens], "k:", label="theory: typical chain")
        ax.set_ylabel(f"{name} [{da.attrs.get('units', '')}]")
        ax.legend(fontsize=7)
    axes[-1, 0].set_xlabel("generation")
    what = "mean, median and 10-90 % of replicates" if "replicate" in ds.dims else "one chain"
    fig.suptitle(f"{ds.attrs.get('name', 'run')}: {what}", fontsize=10)
    fig.tight_layout()
    written = [Path(folder) / "curves.png"]
    fig.savefig(written[0], dpi=110)
    plt.close(fig)
    if "class_frequency" in ds:
        written.append(_class_heatmap(ds, Path(folder) / "class_frequency.png", plt))
    if "ap50_95" in ds:
        written.append(plot_class_ap(ds, Path(folder) / "ap_per_class.png", plt))
        samples = plot_samples(ds, Path(folder), plt)
        written += [samples] if samples else []
    return written


def _lines(da: xr.DataArray):
    """One series per ``k`` for tail masses, else the variable itself (class dims averaged)."""
    if "k" in da.dims:
        return [(f"k={float(k):g}", da.sel(k=k)) for k in da.k]
    extra = [d for d in da.dims if d not in ("generation", "replicate")]
    return [("simulated", da.mean(extra) if extra else da)]


def _class_heatmap(ds: xr.Dataset, path: Path, plt) -> Path:
    freq = ds["class_frequency"]
    freq = (freq.mean("replicate") if "replicate" in freq.dims else freq).transpose("class", "generation")
    fig, ax = plt.subplots(figsize=(8, max(3, 0.15 * freq.sizes["class"])))
    image = ax.imshow(np.log10(freq.values + 1e-6), aspect="auto", origin="lower", cmap="viridis")
    ax.set_yticks(range(freq.sizes["class"]), [str(c) for c in freq["class"].values], fontsize=5)
    ax.set_xlabel("generation")
    fig.colorbar(image, label="log10 class share in training data")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
