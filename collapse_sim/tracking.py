"""Drive the chosen experiment trackers from the run's one writer: a generation is logged once complete.

The last generation logged is kept in ``<run dir>/tracker_state.json``, so a
resumed run first logs what completed after it (a kill between the store and
the tracker loses nothing) and never logs a generation twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import xarray as xr

from collapse_sim.checkpoints import atomic_write
from collapse_sim.loggers import scalars
from collapse_sim.store import open_run

STATE_FILE = "tracker_state.json"


class TrackedStore:
    """The run's store, reporting each generation to the trackers once every chain has written it."""

    def __init__(self, store, loggers: dict, run_dir: Path, *, chains: int | None) -> None:
        self.store, self.loggers, self.chains = store, list(loggers.values()), chains
        self.state = Path(run_dir) / STATE_FILE

    def start(self, run_dir: Path, *, name: str, config: dict, overrides: list[str]) -> None:
        """Start (or continue) every tracker's run and log completed generations not yet logged."""
        if not self.loggers:  # no tracker: nothing to read back
            return
        for logger in self.loggers:
            logger.start(run_dir, name=name, config=config, overrides=overrides)
        logged = self._logged()
        try:
            done = open_run(self.store.path)
        except FileNotFoundError:
            return
        for generation in (int(g) for g in done.generation.values if int(g) > logged):
            self._log(generation, done.sel(generation=generation).load())

    def _logged(self) -> int:
        return json.loads(self.state.read_text())["logged"] if self.state.exists() else -1

    def _log(self, generation: int, ds: xr.Dataset) -> None:
        values = scalars(ds, per_chain=self.chains is not None)
        for logger in self.loggers:
            logger.log(generation, values)
        atomic_write(self.state, lambda file: file.write(json.dumps({"logged": generation}).encode()))

    def write(self, generation: int, results: xr.Dataset, *, chain: int | None = None) -> None:
        """Write to the store."""
        self.store.write(generation, results, chain=chain)

    def mark_complete(self, generation: int, *, chain: int | None = None) -> None:
        """Mark it in the store; once every chain has the generation, log it (read back from the store)."""
        self.store.mark_complete(generation, chain=chain)
        if self.loggers and self.store.is_complete(generation) and generation > self._logged():
            self._log(generation, self.store.read(generation))

    def finish(self, files: list[Path]) -> None:
        """Hand the plots and report to every tracker and close its run."""
        for logger in self.loggers:
            logger.finish(files)
