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
from collapse_sim.store import RunStore, open_run
from collapse_sim.variables import key_variables

STATE_FILE = "tracker_state.json"


class Trackers:
    """The run's trackers, told of each generation once every chain has written it to the store."""

    def __init__(self, loggers: dict, run_dir: Path, *, per_chain: bool) -> None:
        self.loggers, self.per_chain = list(loggers.values()), per_chain
        self.state = Path(run_dir) / STATE_FILE

    def start(self, store: RunStore, run_dir: Path, *, name: str, config: dict, overrides: list[str]) -> None:
        """Start (or continue) every tracker's run and log completed generations not yet logged."""
        if not self.loggers:
            return
        for logger in self.loggers:
            logger.start(run_dir, name=name, config=config, overrides=overrides)
        if store.fresh:  # nothing kept yet: nothing to log again
            return
        logged = self._logged()
        done = open_run(store.path)
        for generation in (int(g) for g in done.generation.values):
            # A logger that cannot reopen its run (W&B offline) gets the whole history again.
            loggers = [lg for lg in self.loggers if generation > logged or lg.replays_on_resume]
            if loggers:
                self._log(generation, done.sel(generation=generation).load(), loggers)

    def _logged(self) -> int:
        return json.loads(self.state.read_text())["logged"] if self.state.exists() else -1

    def _log(self, generation: int, ds: xr.Dataset, loggers: list | None = None) -> None:
        values = scalars(ds, per_chain=self.per_chain)
        for logger in self.loggers if loggers is None else loggers:
            logger.log(generation, values)
        logged = max(generation, self._logged())
        atomic_write(self.state, lambda file: file.write(json.dumps({"logged": logged}).encode()))

    def written(self, store: RunStore, generation: int) -> None:
        """A chain's generation is in the store; once every chain has it, log it (as read back)."""
        if self.loggers and store.is_complete(generation) and generation > self._logged():
            self._log(generation, store.read(generation))

    def finish(self, files: list[Path], ds: xr.Dataset) -> None:
        """Hand the plots, the report and the key variables' last means to every tracker; close its run."""
        if not self.loggers:
            return
        last = scalars(ds.isel(generation=-1), per_chain=False)
        key = {f"mean/{name}": last[f"mean/{name}"] for name in key_variables(ds) if f"mean/{name}" in last}
        for logger in self.loggers:
            logger.finish(files, key)

    def where(self) -> list[str]:
        """Where each tracker logged the run, a line each, for the summary."""
        return [line for line in (logger.where() for logger in self.loggers) if line]
