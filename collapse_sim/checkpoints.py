"""What a resumed run needs: each generation's synthetic set and, for warm starts, its model.

Files are written to a temporary name and renamed, so a crash never leaves a
half-written checkpoint behind.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from collapse_sim.samples import Samples


def atomic_write(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Call ``write`` on a temporary file beside ``path``, flush it to disk, then rename it to ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:  # a full disk, a stop: no half-written file is left behind
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def atomic_pickle(obj: Any, path: Path) -> None:
    """Pickle ``obj`` to ``path`` via a temporary file and an atomic rename."""
    atomic_write(path, lambda handle: pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL))


def replace_folder(folder: Path, write: Callable[[Path], Any]) -> None:
    """``write(tmp)`` a folder beside ``folder``, then put it in ``folder``'s place (the old one removed
    first: a kill between the two leaves the new one under its temporary name, rewritten next time)."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    write(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def made_once(
    path: Path, read: Callable[[Path], Any], make: Callable[[], Any], write: Callable[[Any, BinaryIO], Any]
):
    """What ``path`` holds, made once: the first process to take the lock beside it calls ``make`` and
    writes the result atomically; every other process (another chain, a resumed run) ``read``s it.
    The lock file goes once ``path`` exists: whoever takes a lock after that finds ``path`` and reads."""
    if path.is_file():
        return read(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    locked = path.with_name(path.name + ".lock")
    with open(locked, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if path.is_file():
                return read(path)
            made = make()
            atomic_write(path, lambda handle: write(made, handle))
            return made
        finally:
            if path.is_file():
                locked.unlink(missing_ok=True)


class Checkpoints:
    """Checkpoint files of one run directory (``<run>/checkpoints``)."""

    def __init__(self, run_dir: Path, *, history_window: int | None, prune: bool = True) -> None:
        self.folder = Path(run_dir) / "checkpoints"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.window = history_window
        self.prunes = prune  # False: the run's writer calls keep_from once its store holds the generations

    def _synthetic(self, generation: int) -> Path:
        return self.folder / f"synthetic_{generation:05d}.pkl"

    def _model(self, generation: int) -> Path:
        return self.folder / f"model_{generation:05d}.pkl"

    def save(self, generation: int, synthetic: Samples, model: Any | None) -> None:
        """Store what generation ``generation`` produced."""
        atomic_pickle(synthetic, self._synthetic(generation))
        if model is not None:
            atomic_pickle(model, self._model(generation))

    def prune(self, generation: int) -> None:
        """Drop files no later generation can need (call after ``generation`` is complete)."""
        if not self.prunes:
            return
        if self.window is not None:
            self._synthetic(generation - self.window).unlink(missing_ok=True)
        self._model(generation - 1).unlink(missing_ok=True)

    def keep_from(self, start: int) -> None:
        """Keep only what a run resuming at ``start`` reads: the synthetic sets of its history window and
        the model of ``start - 1``; every older file goes."""
        for path in self.folder.glob("*.pkl"):
            kind, _, number = path.stem.rpartition("_")
            needed_from = start - 1 if kind == "model" else start - (self.window or start + 1)
            if number.isdigit() and int(number) < needed_from:
                path.unlink(missing_ok=True)

    def history(self, start: int) -> list[Samples]:
        """The synthetic sets a run resuming at ``start`` keeps in memory."""
        first = 0 if self.window is None else max(0, start - self.window)
        sets = []
        for generation in range(first, start):
            with open(self._synthetic(generation), "rb") as handle:
                sets.append(pickle.load(handle))
        return sets

    def model(self, generation: int) -> Any:
        """The model fitted in ``generation``."""
        with open(self._model(generation), "rb") as handle:
            return pickle.load(handle)


class NoCheckpoints:
    """For in-memory runs that are never resumed: saves nothing."""

    def save(self, generation: int, synthetic: Samples, model: Any | None) -> None:
        """Nothing to save."""

    def prune(self, generation: int) -> None:
        """Nothing to prune."""
