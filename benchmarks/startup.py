"""Start-up: how long a short command takes end to end, phase by phase, and a refused command.

Runs ``python -m collapse_sim +experiment=gaussian_collapse generations=1
replicates=1`` (one generation of the toy: the simulation is a tiny part of
it) ``--repeats`` times in fresh interpreters, each into a new folder, with
``COLLAPSE_SIM_PHASES`` set so the command notes its moments
(``collapse_sim.phases``). Phases, medians over the repeats:

- interpreter: from launch to the first line of ``collapse_sim.__main__``
- imports: the app and what it needs to check a command (Hydra, numpy, ...)
- compose, build: the configuration composed, validated, its components built
- store: Hydra's job set-up (output folder, logging, ``.hydra/``) and the store laid out
- generation: the simulation's generations, recorded
- summary, plots, report: the terminal summary, ``curves.png``, ``report.html``
- exit: what remains until the process has ended

the wall time of a refused command (``source=nope``), and a notebook's first read: a
fresh interpreter that runs ``import collapse_sim as cs; cs.open_run(store)`` on the
store just made (``reader_s``, and which of Hydra and the builder it loaded). The matrix-multiply
peak of this machine is measured in the same run; the issue's targets are
stated at a reference of 200 GFLOP/s on 2 cores, and ``*_at_reference_s``
scales the measured medians by peak / reference (start-up is imports and
files, not arithmetic, so the scaling is a rough guide). JSON last.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from step_profile import matmul_peak_gflops

ROOT = Path(__file__).resolve().parent.parent
COMMAND = ["+experiment=gaussian_collapse", "generations=1", "replicates=1"]
ORDER = ("started", "imported", "composed", "built", "store", "generation", "summary", "plots", "report")
NAMES = ("interpreter", "imports", "compose", "build", "store", "generation", "summary", "plots", "report")
REFERENCE_GFLOPS = 200.0


def timed_run(args: list[str], folder: Path) -> tuple[float, dict[str, float]]:
    """Wall time of one command in a fresh interpreter, and its phases (seconds each)."""
    marks_file = folder / "phases.txt"
    env = {**os.environ, "COLLAPSE_SIM_PHASES": str(marks_file), "PYTHONPATH": str(ROOT)}
    launched = time.perf_counter()  # CLOCK_MONOTONIC: the child's marks share this clock
    done = subprocess.run(
        [sys.executable, "-m", "collapse_sim", *args], cwd=folder, capture_output=True, text=True, env=env
    )
    ended = time.perf_counter()
    if done.returncode not in (0, 2):
        raise SystemExit(f"the command failed: {done.stderr[-2000:]}")
    marks: dict[str, float] = {}
    if marks_file.exists():
        for line in marks_file.read_text().splitlines():
            name, moment = line.split()
            marks.setdefault(name, float(moment))  # a generation's first record
            if name == "generation":
                marks[name] = float(moment)  # ... and its last
    moments = [("launch", launched)] + [(n, marks[n]) for n in ORDER if n in marks] + [("exit", ended)]
    steps = zip(moments, moments[1:], strict=False)  # each moment and the one after it
    phases = {NAMES[ORDER.index(b)] if b in ORDER else b: t - s for (_, s), (b, t) in steps}
    return ended - launched, phases


READER = (
    "import sys, time; t = time.perf_counter(); import collapse_sim as cs; cs.open_run(sys.argv[1]);"
    "print(time.perf_counter() - t); print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0]"
    " == 'hydra'} | {m for m in sys.modules if m in ('collapse_sim.build', 'collapse_sim.job')}))"
)


def timed_read(run_dir: Path) -> tuple[float, list[str]]:
    """Seconds a fresh interpreter takes to import collapse_sim and open a run's store, and what it
    loaded of Hydra and the builder (readers should load neither)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", READER, str(run_dir)], capture_output=True, text=True, env=env, check=True
    )
    seconds, loaded = done.stdout.strip().splitlines()[-2:]
    return float(seconds), eval(loaded)


def main() -> None:
    """Time the short command and a refused one ``--repeats`` times; print the medians, JSON last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    walls, refused, phases, reads = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="startup_") as scratch:
        for repeat in range(args.repeats):
            folder = Path(scratch) / f"run{repeat}"
            folder.mkdir()
            wall, parts = timed_run([*COMMAND, f"hydra.run.dir={folder / 'run'}"], folder)
            walls.append(wall)
            phases.append(parts)
            refused.append(timed_run(["source=nope"], folder)[0])
            reads.append(timed_read(folder / "run"))
            print(
                json.dumps(
                    {"repeat": repeat, "wall_s": round(wall, 3), **{k: round(v, 3) for k, v in parts.items()}}
                )
            )
    peak = matmul_peak_gflops("cpu")
    median = {name: round(statistics.median(p.get(name, 0.0) for p in phases), 3) for name in phases[0]}
    scale = peak / REFERENCE_GFLOPS
    summary = {
        "benchmark": "startup",
        "command": "python -m collapse_sim " + " ".join(COMMAND),
        "repeats": args.repeats,
        "matmul_peak_gflops": round(peak, 1),
        "reference_gflops": REFERENCE_GFLOPS,
        "toy_run_s": round(statistics.median(walls), 3),
        "refused_s": round(statistics.median(refused), 3),
        "toy_run_at_reference_s": round(statistics.median(walls) * scale, 3),
        "refused_at_reference_s": round(statistics.median(refused) * scale, 3),
        "reader_s": round(statistics.median(r[0] for r in reads), 3),
        "reader_loads": reads[0][1],
        "phases_s": median,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
