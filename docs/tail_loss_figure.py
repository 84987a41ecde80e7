"""Draw docs/tail_loss.png from tail_loss runs: python docs/tail_loss_figure.py RUN_DIR [...] [--out PNG].

Each run is labelled by its mixing policy (and real fraction); the figure shows the
rarest quarter of classes: their share of the training labels and their AP50-95 on
the real test set, generation by generation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import collapse_sim as cs  # noqa: E402
from collapse_sim.reporting.detection import rare_class_series, rarest_quarter  # noqa: E402
from collapse_sim.reporting.run import draw_band  # noqa: E402


def label(ds) -> str:
    """``replace`` or ``fraction (real 0.2)``."""
    mixing = ds.attrs["choices"]["mixing"]
    share = ds.attrs["config"]["mixing"].get("real_fraction")
    return f"{mixing} (real {share:g})" if share else mixing


def main(runs: list[str], out: Path = Path(__file__).parent / "tail_loss.png") -> None:
    """Plot every run side by side and write ``out``."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for number, run in enumerate(runs):
        ds = cs.open_run(run)
        series = dict(rare_class_series(ds))
        colour, name = f"C{number}", f"{label(ds)}, {ds.sizes.get('replicate', 1)} chains"
        draw_band(left, ds.generation.values, 100 * series["rare_share"], name, color=colour, faint=False)
        draw_band(right, ds.generation.values, series["rare_ap50_95"], name, color=colour, faint=False)
        rare = rarest_quarter(ds)
    left.set(
        xlabel="generation",
        ylabel="% of training labels",
        title=f"rarest quarter of classes ({', '.join(rare)})",
    )
    right.set(
        xlabel="generation",
        ylabel="rarest quarter's AP50-95",
        title="YOLO26n on the fixed real test set (mean, 95 % interval)",
    )
    left.legend(fontsize=8)
    right.legend(fontsize=7)
    for ax in (left, right):
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run directories of tail_loss runs")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "tail_loss.png")
    args = parser.parse_args()
    main(args.runs, args.out)
