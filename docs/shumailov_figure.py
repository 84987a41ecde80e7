"""Draw docs/shumailov.png: python docs/shumailov_figure.py REPLACE_RUN FRACTION_RUN --out PNG.

The two arms of ``+experiment=shumailov`` side by side: each arm's training text as its chains'
generation-0 models read it (histograms, one line a generation: Shumailov et al. 2024, Figure 1),
and the held-out test bits per character per generation (mean of the chains and 95 % interval),
with the perplexity per token it means. Prints the numbers the README quotes, then the same as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import collapse_sim as cs  # noqa: E402
from collapse_sim.reporting.axes import apply_honest_limits  # noqa: E402
from collapse_sim.reporting.figures import draw_histograms  # noqa: E402
from collapse_sim.reporting.intervals import band, format_interval, mean_interval, valid_range  # noqa: E402
from collapse_sim.variables import figures  # noqa: E402

LABELS = ("no original data kept", "10 % original data kept")
CHANGES = ("test_bits_per_char", "year_recall", "name_recall", "rare_word_recall")


def arm_numbers(ds) -> dict:
    """Per generation, the mean and 95 % interval over chains of each variable the README quotes."""
    numbers = {
        name: [
            format_interval(*mean_interval(ds[name].isel(generation=g).values)[:3], digits=3)
            for g in ds.generation.values
        ]
        for name in CHANGES
    }
    quantiles = ds["gen0_bits_per_char"].mean("replicate")
    numbers["gen0_median"] = [round(float(v), 3) for v in quantiles.sel(quantile=0.5).values]
    numbers["gen0_q95"] = [round(float(v), 3) for v in quantiles.sel(quantile=0.95).values]
    numbers["gen0_q05"] = [round(float(v), 3) for v in quantiles.sel(quantile=0.05).values]
    numbers["chains"] = int(ds.sizes["replicate"])
    numbers["wall_s"] = round(float(ds["wall_time_s"].sum("generation").max()), 1)
    return numbers


def main(runs: list[str], out: Path, chars_per_token: float | None) -> dict:
    """Draw both arms, write ``out`` and return their numbers."""
    stores = [cs.open_run(run) for run in runs]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, ds, label in zip(axes[:2], stores, LABELS, strict=True):
        ((_, figure),) = figures(ds, "histogram")  # the generation-0 model's histogram, as declared
        draw_histograms(ax, ds["gen0_histogram"], figure, plt)
        ax.set_title(f"{label}: {ds.sizes['replicate']} chains", fontsize=9)
    axes[1].sharey(axes[0])
    drawn = []
    for i, (ds, label) in enumerate(zip(stores, LABELS, strict=True)):
        mean, low, high = band(ds["test_bits_per_char"])
        gens = ds.generation.values
        axes[2].plot(gens, mean, color=f"C{i}", label=label)
        axes[2].fill_between(gens, low, high, color=f"C{i}", alpha=0.2)
        drawn += [low, high]
    apply_honest_limits(axes[2], np.concatenate(drawn), valid_range(stores[0]["test_bits_per_char"]))
    axes[2].set(xlabel="generation", ylabel="test bits per character (held-out Wikipedia)")
    axes[2].set_xticks(stores[0].generation.values)
    axes[2].legend(fontsize=8)
    axes[2].set_title("held-out text: mean and 95 % interval over chains", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    summary = {label: arm_numbers(ds) for label, ds in zip(LABELS, stores, strict=True)}
    if chars_per_token:
        for label, ds in zip(LABELS, stores, strict=True):
            bpc = ds["test_bits_per_char"].mean("replicate").values
            summary[label]["test_perplexity_per_token"] = [
                round(float(2 ** (b * chars_per_token)), 1) for b in bpc
            ]
    for label, numbers in summary.items():
        first, last = numbers["test_bits_per_char"][0], numbers["test_bits_per_char"][-1]
        print(f"{label}: test bits/char {first} -> {last}")
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs=2, help="the replace arm's run folder, then the 10 %% arm's")
    parser.add_argument("--out", type=Path, default=Path("docs/shumailov.png"))
    parser.add_argument("--chars-per-token", type=float, default=None, help="to state perplexity per token")
    args = parser.parse_args()
    print(json.dumps(main(args.runs, args.out, args.chars_per_token)))
