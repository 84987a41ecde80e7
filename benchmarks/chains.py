"""R detection chains one after another (workers=1) against side by side (workers=auto), in one run.

Each configuration is a fresh ``python -m collapse_sim`` process with the
tail_loss experiment scaled to about a minute per chain on a 2-core CPU.
Reported per configuration: wall time, chains per hour, and peak memory (the
resident memory of the whole process tree, sampled every 0.2 s); then a check
that every chain's stored values are identical between the two, and
``throughput_ratio`` (chains per hour side by side / one after another).

    python benchmarks/chains.py                  # 4 chains on this machine's CPU
    python benchmarks/chains.py --device cuda    # the same on a GPU (chains share the device)

Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

import collapse_sim as cs

ROOT = Path(__file__).resolve().parent.parent
# tail_loss, scaled down: about a minute per chain on one core of a 2-core CPU.
SCALED = ["+experiment=tail_loss", "generations=4", "n_samples=200", "source.test_size=200", "plots=false"]


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and all its children, in bytes."""
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def run(args: list[str], run_dir: Path) -> dict:
    """One fresh process; its wall time and the peak memory of its process tree."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "collapse_sim", *args, f"hydra.run.dir={run_dir}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    watched, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(watched))
        time.sleep(0.2)
    wall = time.perf_counter() - began
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stderr.read()}")
    return {"wall_s": round(wall, 1), "peak_rss_mb": round(peak / 2**20)}


def identical(a, b) -> bool:
    """Every chain's stored values are the same in both runs (wall times aside; NaN equals NaN)."""
    if set(a.data_vars) != set(b.data_vars):
        return False
    try:
        for name in (n for n in a.data_vars if n != "wall_time_s"):
            np.testing.assert_array_equal(a[name].values, b[name].values)
    except AssertionError:
        return False
    return True


def main() -> None:
    """Run both configurations, compare them, print the summary JSON last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:<index>")
    parser.add_argument(
        "--extra", nargs="*", default=[], help="more overrides (smaller runs for a smoke test)"
    )
    args = parser.parse_args()
    common = [*SCALED, f"replicates={args.chains}", f"trainer.device={args.device}", *args.extra]
    results = {}
    with tempfile.TemporaryDirectory(prefix="collapse_sim_chains_") as folder:
        for label, workers in (("sequential", "1"), ("side_by_side", "auto")):
            run_dir = Path(folder) / label
            results[label] = run([*common, f"workers={workers}"], run_dir)
            ds = cs.open_run(run_dir)
            results[label]["workers"] = int(ds.attrs["config"]["workers"]) if workers != "auto" else workers
            results[label]["chains_per_hour"] = round(args.chains * 3600 / results[label]["wall_s"], 1)
            results[label]["dataset"] = ds.load()
            print(f"{label}: {results[label]['wall_s']} s, {results[label]['peak_rss_mb']} MB", flush=True)
    same = identical(results["sequential"].pop("dataset"), results["side_by_side"].pop("dataset"))
    summary = {
        "benchmark": "chains",
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cores",
        "device": args.device,
        "chains": args.chains,
        "overrides": common,
        **{f"{k}_{label}": v for label, r in results.items() for k, v in r.items()},
        "identical_chains": same,
        "throughput_ratio": round(results["sequential"]["wall_s"] / results["side_by_side"]["wall_s"], 2),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
