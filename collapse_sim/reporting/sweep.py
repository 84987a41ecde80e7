"""A whole sweep at once: its combined Zarr store and plots across the swept settings.

``python -m collapse_sim.report <sweep dir>`` (or ``collapse-sim-report <sweep dir>``)
reads every job with ``open_sweep`` (failed or unfinished jobs are NaN, with a
warning naming them), writes ``<sweep dir>/sweep.zarr`` and, per key
variable, ``sweep_<variable>.png``: the variable over generations, one line per
value of the first swept setting, one panel per combination of the others.
"""

from __future__ import annotations

import itertools
import shutil
import sys
import warnings
from pathlib import Path

import xarray as xr

from collapse_sim.errors import exit_with
from collapse_sim.reporting import KEY_VARIABLES
from collapse_sim.store import as_stored, quiet_consolidation
from collapse_sim.sweep import FIXED_DIMS, open_sweep

SWEEP_STORE = "sweep.zarr"


def swept_dims(ds: xr.Dataset) -> list[str]:
    """The dimensions that ``open_sweep`` made from swept settings."""
    return [d for d in ds.dims if d not in FIXED_DIMS and d != "size_bin"]


def write_sweep_store(ds: xr.Dataset, folder: Path) -> Path:
    """Write the sweep as ``folder/sweep.zarr``; an older one is replaced only once the new one is whole."""
    path = Path(folder) / SWEEP_STORE
    partial = path.with_name(SWEEP_STORE + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    stored = as_stored(ds)
    stored.attrs = {k: v for k, v in ds.attrs.items() if k != "config"}  # per-job configs differ
    for name in stored.variables:
        stored[name].encoding = {}
    with quiet_consolidation():
        stored.to_zarr(partial, mode="w", consolidated=True)
    if path.exists():
        shutil.rmtree(path)
    partial.rename(path)
    return path


def _series(da: xr.DataArray) -> xr.DataArray:
    """Mean over replicates and classes: one value per generation."""
    return da.mean([d for d in da.dims if d in ("replicate", "class", "k", "size_bin")])


def plot_sweep(ds: xr.Dataset, folder: Path) -> list[Path]:
    """One PNG per key variable: lines per value of the first swept setting, panels for the rest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = swept_dims(ds)
    hue, panels = (dims[0], dims[1:]) if dims else (None, [])
    combos = list(itertools.product(*(ds[d].values for d in panels))) or [()]
    written = []
    for name in (n for n in KEY_VARIABLES if n in ds and n != "train_size"):
        fig, axes = plt.subplots(1, len(combos), figsize=(4.2 * len(combos), 3.2), squeeze=False, sharey=True)
        for ax, combo in zip(axes[0], combos, strict=True):
            da = _series(ds[name].sel(dict(zip(panels, combo, strict=True))))
            for value in ds[hue].values if hue else [None]:
                line = da.sel({hue: value}) if hue else da
                ax.plot(
                    ds.generation.values, line.values, marker=".", label=f"{hue}={value}" if hue else name
                )
            ax.set_title(", ".join(f"{d}={v}" for d, v in zip(panels, combo, strict=True)), fontsize=8)
            ax.set_xlabel("generation")
        axes[0, 0].set_ylabel(f"{name} [{ds[name].attrs.get('units', '')}]")
        axes[0, -1].legend(fontsize=7)
        fig.tight_layout()
        path = Path(folder) / f"sweep_{name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    """``python -m collapse_sim.report SWEEP_DIR``: combined store and plots of a multirun."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        exit_with("usage: python -m collapse_sim.report SWEEP_DIR (a Hydra multirun directory)")
    folder = Path(args[0])
    if not folder.is_dir():
        exit_with(
            f"{folder}: not a directory; give the multirun directory whose job folders (0, 1, ...) "
            "hold stores"
        )
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = open_sweep(folder)
    except FileNotFoundError as error:
        exit_with(str(error))
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    print(f"store: {write_sweep_store(ds, folder)}")
    for path in plot_sweep(ds, folder):
        print(f"plot: {path}")
