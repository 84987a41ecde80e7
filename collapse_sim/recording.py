"""The run's one writer: each finished generation into the store and the trackers, then checkpoints pruned.

A chained run (detection, text, images: generations of minutes) writes each
generation as it comes. A vectorised run (the toy families: generations of
milliseconds) holds its finished generations and writes them in one batch at
most every ``store_flush_s`` seconds, at its end, and when it stops; its
checkpoints are pruned only once the store holds the generations, so a kill
loses at most the last interval's work, never a written generation, and a
resume recomputes what was lost to the same values.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import xarray as xr

from collapse_sim.checkpoints import Checkpoints
from collapse_sim.loop import Generation
from collapse_sim.store import RunStore, open_run
from collapse_sim.tracking import Trackers


class Recorder:
    """Records a run's finished generations; ``results()`` is what the summary and report read."""

    def __init__(
        self,
        store: RunStore,
        trackers: Trackers,
        run_dir: Path,
        *,
        flush_s: float,
        history_window: int | None,
        start: int,
    ) -> None:
        self.store, self.trackers = store, trackers
        self.flush_s = flush_s
        self.held = store.batched  # a vectorised run: generations wait in memory for the next flush
        # A vectorised run's checkpoints are the run folder's; the writer prunes them after each flush.
        self.checkpoints = (
            Checkpoints(run_dir, history_window=history_window, prune=False) if self.held else None
        )
        self.pending: list[Generation] = []
        self.written: list[xr.Dataset] = []  # this attempt's batches as stored, for the summary
        self.made_all = start == 0  # this attempt makes every generation: the summary needs no read-back
        self.flushed_at = time.monotonic()

    def record(self, done: Generation, chain: int | None) -> None:
        """One finished generation (of one chain): written now, or held until the next flush."""
        if not self.held:
            self.store.write(done.generation, done.results, chain=chain)
            self.store.mark_complete(done.generation, chain=chain)
            self.trackers.written(self.store, done.generation)
            return
        self.pending.append(done)
        if time.monotonic() - self.flushed_at >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        """Write every held generation in one batch, mark them complete, log them, prune the checkpoints."""
        if not self.pending:
            return
        first, count = self.pending[0].generation, len(self.pending)
        batch = self.store.write_generations(first, [done.results for done in self.pending])
        self.store.mark_complete(first, count=count)
        self.written.append(batch)
        self.pending.clear()
        for generation in range(first, first + count):
            self.trackers.written(self.store, generation)
        self.checkpoints.keep_from(first + count)
        self.flushed_at = time.monotonic()

    def results(self) -> xr.Dataset:
        """The run's complete generations, as ``open_run`` reads them; from memory when this attempt made
        and wrote them all (reading a store of many generations back costs about a second)."""
        if not (self.held and self.made_all and self.written):
            return open_run(self.store.path)
        ds = xr.concat(self.written, "generation", coords="minimal", compat="override", join="override")
        flags = np.ones(ds.sizes["generation"], dtype=bool)
        ds["completed"] = ("generation", flags, dict(self.store.completed_attrs))
        ds.attrs = dict(self.store.attrs)
        return ds
