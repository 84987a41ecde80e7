"""Draw the artefacts picture: python docs/crops_figure.py RUN_DIR [...] --labels ... --out PNG.

One panel per run: each class's object crops (rows) in each generation's training
images (columns) of the run's first chain, as ``generations/NNN/crops.npz`` keeps them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import collapse_sim as cs  # noqa: E402
from collapse_sim.reporting.crops import crop_grid, example_files  # noqa: E402


def main(runs: list[str], labels: list[str], out: Path, title: str | None = None) -> Path:
    """One crop grid per run, stacked, written to ``out``."""
    if len(labels) != len(runs):
        raise SystemExit(f"--labels: give one label per run ({len(runs)}), got {len(labels)}")
    grids, names = [], None
    for run in runs:
        files = example_files(Path(run))
        if not files:
            raise SystemExit(f"{run}: no generations/*/crops.npz; use generator=sprite_vae or sprite_paste")
        names = [str(c) for c in cs.open_run(run)["class"].values]
        grids.append((crop_grid(files, len(names)), [int(f.parent.name) for f in files]))
    width = min(1.5 + grids[0][0].shape[1] / 45, 20)
    heights = [g.shape[0] / g.shape[1] * (width - 1.5) + 0.5 for g, _ in grids]
    fig, axes = plt.subplots(len(grids), 1, figsize=(width, sum(heights) + 0.5), squeeze=False)
    for ax, (grid, generations), label in zip(axes[:, 0], grids, labels, strict=True):
        ax.imshow(grid, interpolation="nearest")
        size, block = grid.shape[0] / len(names), grid.shape[1] / len(generations)
        ax.set_yticks((np.arange(len(names)) + 0.5) * size - 1, names, fontsize=7)
        ticks = (np.arange(len(generations)) + 0.5) * block
        ax.set_xticks(ticks, [f"gen {g}" for g in generations], fontsize=7)
        ax.tick_params(length=0)
        ax.set_title(label, fontsize=9)
        for side in ax.spines.values():
            side.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run directories of sprite_vae or sprite_paste runs")
    parser.add_argument("--labels", nargs="+", required=True, help="one panel title per run")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--title", default=None)
    args = parser.parse_args()
    main(args.runs, args.labels, args.out, args.title)
