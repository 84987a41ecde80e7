"""Draw a README figure from runs: python docs/arms_figure.py RUN_DIR [RUN_DIR ...] --out PNG [--metrics ...].

Each run directory is one arm (a sweep's job folders work too), labelled by the
settings in which the runs differ. Each panel draws every arm's mean over its
chains with the 95 % interval (Student t), generation by generation. It prints,
per metric, each arm's first (or ``--since``) and last generation, each chain's
change between them, and each arm's difference
from the first arm at the last generation with its 95 % Welch interval; the last
line is the same as JSON, for captions.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

import collapse_sim as cs  # noqa: E402
from collapse_sim.config_tree import flatten_config  # noqa: E402
from collapse_sim.reporting.axes import figure_legend  # noqa: E402
from collapse_sim.reporting.classes import rare_class_series  # noqa: E402
from collapse_sim.reporting.intervals import format_interval, mean_interval, welch_difference  # noqa: E402
from collapse_sim.reporting.run import draw_band  # noqa: E402

IGNORED = ("name", "hydra", "store_url", "plots", "workers")  # settings that do not change results
BOUNDED = ("map", "rare_ap", "rare_recall", "label_")
DEFAULT_METRICS = ("map50", "rare_ap50_95", "rare_share")
TITLES = {
    "map50": "mAP50, real test set",
    "map50_95": "mAP50-95, real test set",
    "rare_ap50_95": "rarest quarter: AP50-95, real test set",
    "rare_share": "rarest quarter: share of training labels",
    "rare_recall": "rarest quarter: recall, real test set",
    "label_recall": "pseudo-label recall",
}


def labels(datasets: list) -> list[str]:
    """Each run's settings that differ between the runs (``mixing=fraction, mixing.real_fraction=0.2``)."""
    flat = []
    for ds in datasets:
        config = ds.attrs["config"]
        config = ast.literal_eval(config) if isinstance(config, str) else config
        choices = ds.attrs["choices"]
        choices = ast.literal_eval(choices) if isinstance(choices, str) else choices
        settings = {
            k: float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
            for k, v in flatten_config(config).items()
            if not k.startswith(IGNORED)
        }
        settings.update({group: f"<{choice}>" for group, choice in choices.items() if choice is not None})
        flat.append(settings)
    keys = sorted({k for f in flat for k in f if len({repr(g.get(k)) for g in flat}) > 1})
    # A group whose choice differs already says what its keys' differences mean.
    groups = {k for k in keys if any(str(f.get(k, "")).startswith("<") for f in flat)}
    keys = [k for k in keys if k in groups or k.split(".")[0] not in groups or k.count(".") > 1]
    names = []
    for f in flat:
        shown = {k: f"{f[k]:g}" if isinstance(f[k], float) else str(f[k]).strip("<>") for k in keys if k in f}
        names.append(", ".join(f"{k}={v}" for k, v in shown.items()) or "run")
    return names


def series(ds, metric: str):
    """Per-chain series (generation, replicate) of a store variable or a rarest-quarter series."""
    if metric.startswith("rare_") and metric not in ds:  # a store variable (rare_word_recall) is itself
        return dict(rare_class_series(ds))[metric]
    da = ds[metric]
    extra = [d for d in da.dims if d not in ("generation", "replicate")]
    if extra:
        raise SystemExit(
            f"--metrics: {metric} has dimensions {extra}; name a variable per generation and chain"
        )
    return da if "replicate" in da.dims else da.expand_dims(replicate=[0])


def _finite(value):
    """JSON has no NaN: intervals that do not exist (one chain) become null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value


def run_wall_s(ds) -> float:
    """The run's chains ran side by side: the slowest chain's summed generation times."""
    return float(ds["wall_time_s"].sum("generation").max())


def main(
    runs: list[str],
    out: Path,
    metrics: tuple[str, ...],
    title: str | None = None,
    names: list[str] | None = None,
    since: int = 0,
) -> dict:
    """Plot every run side by side, write ``out`` and return the numbers captions quote."""
    datasets = [cs.open_run(run) for run in runs]
    if names and len(names) != len(runs):
        raise SystemExit(f"--labels: give one label per run ({len(runs)}), got {len(names)}")
    names = names or labels(datasets)
    names = [n if names.index(n) == i else f"{n} ({i + 1})" for i, n in enumerate(names)]  # keys stay apart
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.8), squeeze=False)
    summary = {"runs": runs, "arms": {}}
    for ds, name, colour in zip(datasets, names, (f"C{i}" for i in range(10)), strict=False):
        chains = ds.sizes.get("replicate", 1)
        arm = summary["arms"][name] = {"chains": chains, "wall_s": round(run_wall_s(ds), 1)}
        for ax, metric in zip(axes[0], metrics, strict=True):
            values = series(ds, metric)
            draw_band(ax, ds.generation.values, values, f"{name} ({chains} chains)", color=colour)
            ax.set(xlabel="generation", ylabel=metric)
            ax.set_title(TITLES.get(metric, metric), fontsize=10)
            start, end = values.sel(generation=since).values, values.isel(generation=-1).values
            first, last = mean_interval(start), mean_interval(end)
            arm[metric] = {
                "first": first[:3],
                "last": last[:3],
                "last_per_chain": end.tolist(),
                # Each chain against its own start: does it fall in every chain, and by how much?
                "relative_change_per_chain": ((end - start) / start).tolist(),
                "relative_change": mean_interval((end - start) / start)[:3],
            }
    reference = next(iter(summary["arms"].values()))
    for arm in list(summary["arms"].values())[1:]:
        for metric in metrics:
            arm[metric]["last_minus_first_arm"] = welch_difference(
                arm[metric]["last_per_chain"], reference[metric]["last_per_chain"]
            )
    for ax, metric in zip(axes[0], metrics, strict=True):
        # A t band from few chains can pass 0 or 1; these scores and shares cannot (a share declares
        # valid_max 1 where the metric makes it).
        share = (
            metric.startswith(BOUNDED) or datasets[0].get(metric, xr.DataArray()).attrs.get("valid_max") == 1
        )
        ax.set_ylim(0, 1 if share else None)
        ax.xaxis.get_major_locator().set_params(integer=True)
    figure_legend(fig, axes, ncol=6)  # each arm once, below the panels
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(out, dpi=110)
    for name, arm in summary["arms"].items():
        print(f"{name}: {arm['chains']} chains, {arm['wall_s']:.0f} s")
        for metric in metrics:
            numbers = arm[metric]
            text = (
                f"  {metric}: {format_interval(*numbers['first'])} -> {format_interval(*numbers['last'])}"
                f" (change {format_interval(*numbers['relative_change'], digits=2)}; per chain "
                + ", ".join(f"{c:+.0%}" for c in numbers["relative_change_per_chain"])
                + ")"
            )
            if "last_minus_first_arm" in arm[metric]:
                text += f"; minus first arm {format_interval(*arm[metric]['last_minus_first_arm'])}"
            print(text)
    print(out)
    print(json.dumps(_finite(summary)))
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run directories (one arm each)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument(
        "--metrics", nargs="+", default=list(DEFAULT_METRICS), help="store variables or rare_*"
    )
    parser.add_argument("--title", default=None)
    parser.add_argument(
        "--labels", nargs="+", default=None, help="one legend label per run (default: what differs)"
    )
    parser.add_argument("--since", type=int, default=0, help="the generation changes are measured from")
    args = parser.parse_args()
    main(args.runs, args.out, tuple(args.metrics), args.title, args.labels, args.since)
