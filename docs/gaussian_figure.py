"""Draw docs/gaussian_collapse.png: python docs/gaussian_figure.py RUN_DIR --out PNG.

The refitted variance over generations: the mean over chains with its 95 % interval
beside the expected variance from ``collapse_sim.theory``, and the median chain
beside the theory's typical chain (exp E[log variance]). Prints the last
generation's numbers, then the same as JSON.
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
from collapse_sim.reporting.intervals import band, format_interval, mean_interval  # noqa: E402
from collapse_sim.theory import expected_curves  # noqa: E402


def main(run: str, out: Path) -> dict:
    """Plot the run against theory, write ``out`` and return the numbers the caption quotes."""
    ds = cs.open_run(run)
    variance = ds["variance"]
    theory = expected_curves(ds.attrs["config"])
    if "variance_geometric_mean" not in theory:
        raise SystemExit(f"{run}: not a 1-D Gaussian refit under replace; run +experiment=gaussian_collapse")
    generations = ds.generation.values
    mean, low, high = band(variance)
    median = variance.median("replicate").values
    fig, ax = plt.subplots(figsize=(7, 3.8))
    chains = variance.sizes["replicate"]
    ax.plot(generations, mean, color="C0", label=f"mean of {chains} chains")
    ax.fill_between(generations, low, high, color="C0", alpha=0.2, label="95 % interval of the mean")
    ax.plot(generations, theory["variance"], "k--", lw=1, label="theory: E[variance]")
    ax.plot(generations, median, color="C1", label="median chain")
    ax.plot(generations, theory["variance_geometric_mean"], "k:", lw=1.2, label="theory: exp E[log variance]")
    ax.set(yscale="log", xlabel="generation", ylabel="variance of the refitted Gaussian")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    last = variance.isel(generation=-1).values
    summary = {
        "chains": chains,
        "generations": int(generations[-1]) + 1,
        "mean_last": mean_interval(last)[:3],
        "median_last": float(np.median(last)),
        "theory_mean_last": float(theory["variance"][-1]),
        "theory_typical_last": float(theory["variance_geometric_mean"][-1]),
        "share_below_0.1": float((last < 0.1).mean()),
        "wall_s": round(float(ds["wall_time_s"].sum()), 1),
    }
    print(
        f"generation {summary['generations'] - 1}: mean {format_interval(*summary['mean_last'], digits=3)} "
        f"(theory {summary['theory_mean_last']:.3g}), median {summary['median_last']:.3g} "
        f"(theory {summary['theory_typical_last']:.3g}), {summary['share_below_0.1']:.0%} of chains below 0.1"
    )
    print(out)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run directory of +experiment=gaussian_collapse")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    main(args.run, args.out)
