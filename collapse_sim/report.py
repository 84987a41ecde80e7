"""``collapse-sim-report SWEEP_DIR`` (``python -m collapse_sim.report``): a sweep's store, tables, plots
and ``sweep.html``. A multirun writes the same report when its last job ends."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from collapse_sim.errors import exit_with


def report_sweep(folder: Path, *, compare: bool = True) -> Path:
    """Read every job of the sweep in ``folder``; print its arms (and, with ``compare``, each arm against
    the first); write ``sweep.zarr``, ``sweep_comparison.csv``, the plots and ``sweep.html``."""
    from collapse_sim.lineages import each_chain
    from collapse_sim.reporting.html import write_sweep_page
    from collapse_sim.reporting.sweep import (
        arm_rows,
        comparisons,
        plot_dose_response,
        plot_sweep,
        plot_sweep_histograms,
        print_arms,
        print_comparisons,
        write_comparisons,
        write_sweep_store,
    )
    from collapse_sim.sweep import open_sweep

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = open_sweep(folder)
    except FileNotFoundError as error:
        exit_with(str(error))
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    chains = each_chain(ds)  # tables and plots compare chains; the store keeps every lineage
    last = int(ds.generation[-1])
    print_arms(arm_rows(chains), last)
    rows = comparisons(chains)
    if compare:
        print_comparisons(rows, last)
    ds.attrs["comparison"] = chains.attrs["comparison"] = json.dumps(rows)
    print(f"store: {write_sweep_store(ds, folder)}")
    table = write_comparisons(rows, folder)
    if table:
        print(f"table: {table}")
    plots = plot_sweep(chains, folder)
    dose, histograms = plot_dose_response(chains, folder), plot_sweep_histograms(chains, folder)
    plots = [p for p in (dose, *plots, *histograms) if p]
    for path in plots:
        print(f"plot: {path}")
    from collapse_sim.reporting.sweep import swept_dims
    from collapse_sim.reporting.verdict import sweep_verdicts

    arms = next((d for d in swept_dims(chains) if d not in ("replicate", "seed")), None)
    for line in sweep_verdicts(chains, arms):
        print(f"warning: {line}")
    page = write_sweep_page(chains, folder, rows, plots)
    print(f"sweep report: {page}")
    return page


def main(argv: list[str] | None = None) -> None:
    """``collapse-sim-report SWEEP_DIR``: combined store, arm comparisons and plots of a multirun."""
    parser = argparse.ArgumentParser(
        prog="collapse-sim-report",
        description="Combine a sweep's run stores into one (sweep.zarr), compare its arms with 95 % Welch "
        "intervals (sweep_comparison.csv) and write its plots and sweep.html.",
    )
    parser.add_argument("sweep_dir", metavar="SWEEP_DIR", help="a multirun directory (job folders 0, 1, ...)")
    args, extra = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if extra:
        exit_with(
            f"usage: collapse-sim-report SWEEP_DIR (a Hydra multirun directory); unknown: {' '.join(extra)}"
        )
    folder = Path(args.sweep_dir)
    if not folder.is_dir():
        exit_with(
            f"{folder}: not a directory; give the multirun directory whose job folders (0, 1, ...) hold "
            "stores"
        )
    report_sweep(folder)


if __name__ == "__main__":
    main()
