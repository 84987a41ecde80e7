"""The picture of artefacts: each class's object crops, generation by generation (``crops.png``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

GAP = 2  # pixels between crops and between generations


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


def plot_crops(ds: xr.Dataset, run_dir: Path, plt) -> Path | None:
    """``crops.png`` from the first chain's ``generations/NNN/crops.npz`` (sprite generators write them)."""
    root = Path(run_dir) / "chain_00"
    root = root if (root / "generations").is_dir() else Path(run_dir)
    files = sorted(root.glob("generations/*/crops.npz"))
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
    ax.set_title("object crops of each generation's training images (first chain)", fontsize=9)
    fig.tight_layout()
    path = Path(run_dir) / "crops.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
