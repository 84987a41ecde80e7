"""What a person sees while a run goes: bars on a terminal, a plain line per generation elsewhere (nohup,
SLURM, CI), the same line with a timestamp in ``collapse_sim.log``, and the wall time each attempt took.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path

import numpy as np
import xarray as xr
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from collapse_sim.checkpoints import atomic_write
from collapse_sim.variables import key_variables

TIMING_FILE = "timing.json"  # the wall time of every attempt of a run (a resume is another attempt)
SHOWN = 4  # key variables in a generation's line
log = logging.getLogger("collapse_sim")


def generation_line(results: xr.Dataset, chain: int | None, generation: int, generations: int) -> str:
    """``chain 1, generation 3 of 5: 12.3 s; map50_95 0.412, map50 0.71, ...`` (means over the chains of a
    vectorised run, and over classes and bins)."""
    wall = float(np.nanmax(results["wall_time_s"].values))
    where = (
        f"generation {generation} of {generations}"
        if chain is None
        else (f"chain {chain}, generation {generation} of {generations}")
    )
    shown = [n for n in key_variables(results) if results[n].dtype.kind in "fiu"][:SHOWN]
    values = ", ".join(f"{n} {float(np.nanmean(results[n].values)):.4g}" for n in shown)
    return f"{where}: {duration(wall)}; {values}"


class RunProgress:
    """Chains x generations overall and each running chain's epochs: rich bars on a terminal, else a
    plain line per finished generation; a timestamped line in the run's log either way."""

    def __init__(self, name: str, total: int, done: int, generations: int, *, lines: bool = True) -> None:
        console = Console()
        self.plain = not console.is_terminal
        self.lines = lines and self.plain
        self.generations = generations
        self.display = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=self.plain,
        )
        self.overall = self.display.add_task(f"{name}: chain-generations", total=total, completed=done)
        self.chains: dict[int, int] = {}

    def __enter__(self) -> RunProgress:
        self.display.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.display.__exit__(*exc)

    def epoch(self, chain: int, generation: int, epoch: int, epochs: int) -> None:
        """The chain's bar shows its generation and epoch."""
        label = f"chain {chain}, generation {generation}: epochs"
        if chain not in self.chains:
            self.chains[chain] = self.display.add_task(label, total=epochs)
        self.display.update(self.chains[chain], description=label, completed=epoch, total=epochs)

    def generation_done(self, results: xr.Dataset, chain: int | None, generation: int) -> None:
        """One more chain-generation done: the bar moves; the line goes to the log (and to the output
        when it is not a terminal)."""
        line = generation_line(results, chain, generation, self.generations)
        log.info(line)
        if self.lines:
            print(line, flush=True)
        self.display.advance(self.overall)

    def chain_done(self, chain: int) -> None:
        """The chain's bar goes."""
        if chain in self.chains:
            self.display.remove_task(self.chains.pop(chain))


class Attempt:
    """Times one attempt of a run (a first start or a resume) and adds it to the run's ``timing.json``,
    however the attempt ends."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / TIMING_FILE
        self.started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    def __enter__(self) -> Attempt:
        self.began = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        attempts = attempts_of(self.path.parent) + [
            {"started": self.started, "seconds": round(time.perf_counter() - self.began, 3)}
        ]
        try:
            atomic_write(self.path, lambda file: file.write(json.dumps({"attempts": attempts}).encode()))
        except OSError:  # a full disk: the store, not this note, is what matters
            pass


def attempts_of(run_dir: Path) -> list[dict]:
    """The timed attempts of a run (none for a run made before attempts were timed)."""
    path = Path(run_dir) / TIMING_FILE
    try:
        return json.loads(path.read_text())["attempts"]
    except (OSError, ValueError, KeyError):
        return []


def duration(seconds: float) -> str:
    """``0.42 s``, ``41 s``, ``2 min 41 s``, ``1 h 02 min``."""
    if seconds < 59.5:
        return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"
    seconds = round(seconds)
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def wall_time_line(ds: xr.Dataset, run_dir: Path | None) -> str:
    """``wall time 2 min 41 s (2 attempts); a generation 9.4 s per chain (mean)``, from the run's
    attempts and its stored ``wall_time_s``."""
    per_generation = float(np.nanmean(ds["wall_time_s"].values)) if "wall_time_s" in ds else np.nan
    attempts = attempts_of(run_dir) if run_dir is not None else []
    parts = []
    if attempts:
        total = sum(a["seconds"] for a in attempts)
        several = f" ({len(attempts)} attempts)" if len(attempts) > 1 else ""
        parts.append(f"wall time {duration(total)}{several}")
    if np.isfinite(per_generation):
        chains = "per chain " if "replicate" in ds["wall_time_s"].dims and ds.sizes["replicate"] > 1 else ""
        parts.append(f"a generation {per_generation:.3g} s {chains}(mean)")
    return "; ".join(parts)
