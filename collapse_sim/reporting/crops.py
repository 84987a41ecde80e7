"""The picture of artefacts: each class's object crops, generation by generation (``crops.png``).

Generators that draw pictures keep a few of each generation's in
``generations/NNN/crops.npz`` (``keep_examples``); the report lays the first
chain's out as one grid.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

GAP = 2  # pixels between crops and between generations
CROPS_TITLE = "object crops of each generation's training images (first chain)"


def keep_examples(
    folder: Path, generation: int, crops: np.ndarray, classes: np.ndarray, title: str, per_class: int
) -> None:
    """Write ``generations/NNN/crops.npz`` under a chain's ``folder``: the first ``per_class`` of
    ``crops`` (n, H, W, >= 3) in [0, 1] of each class in ``classes``, and the grid's ``title``; a resumed
    chain rewrites it whole."""
    chosen = np.concatenate([np.flatnonzero(classes == c)[:per_class] for c in np.unique(classes)])
    target = Path(folder) / "generations" / f"{generation:03d}"
    target.mkdir(parents=True, exist_ok=True)
    partial = target / "crops.partial.npz"
    np.savez_compressed(partial, crops=crops[chosen], classes=classes[chosen], title=np.array(title))
    os.replace(partial, target / "crops.npz")


def example_files(run_dir: Path) -> list[Path]:
    """The first chain's ``generations/NNN/crops.npz`` (the run directory's own for a vectorised run)."""
    root = Path(run_dir) / "chain_00"
    root = root if (root / "generations").is_dir() else Path(run_dir)
    return sorted(root.glob("generations/*/crops.npz"))


def crop_grid(files: list[Path], n_classes: int) -> np.ndarray:
    """One RGB array: a row per class, a block of that class's crops per generation (white where none)."""
    loaded = [np.load(f) for f in files]
    size = next(d["crops"].shape[1] for d in loaded if len(d["crops"]))
    per_class = max(max(np.bincount(d["classes"], minlength=n_classes).max(initial=0) for d in loaded), 1)
    block = per_class * (size + GAP) + 3 * GAP
    grid = np.ones((n_classes * (size + GAP), len(files) * block, 3), dtype=np.float32)
    for column, data in enumerate(loaded):
        for row in range(n_classes):
            for i, crop in enumerate(data["crops"][data["classes"] == row]):
                y, x = row * (size + GAP), column * block + i * (size + GAP)
                grid[y : y + size, x : x + size] = crop[..., :3]
    return grid


def grid_title(run_dir: Path) -> str:
    """The title the run's kept examples carry (files without one hold object crops)."""
    files = example_files(run_dir)
    if not files:
        return CROPS_TITLE
    with np.load(files[-1]) as data:
        return str(data["title"]) if "title" in data.files else CROPS_TITLE


def plot_crops(ds: xr.Dataset, run_dir: Path, plt) -> Path | None:
    """``crops.png`` from the first chain's ``generations/NNN/crops.npz`` (sprite generators write them)."""
    files = example_files(run_dir)
    if not files:
        return None
    names = [str(c) for c in ds["class"].values]
    grid = crop_grid(files, len(names))
    width = min(1.5 + grid.shape[1] / 45, 20)
    fig, ax = plt.subplots(figsize=(width, 0.9 + (width - 1.5) * grid.shape[0] / grid.shape[1]))
    ax.imshow(grid, interpolation="nearest")
    size = grid.shape[0] / len(names)
    ax.set_yticks((np.arange(len(names)) + 0.5) * size - 1, names, fontsize=8)
    block = grid.shape[1] / len(files)
    ax.set_xticks(
        (np.arange(len(files)) + 0.5) * block, [f"generation {int(f.parent.name)}" for f in files], fontsize=8
    )
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(grid_title(run_dir), fontsize=9)
    fig.tight_layout()
    path = Path(run_dir) / "crops.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
