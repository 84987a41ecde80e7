"""One chain: its loop, in the run's process or in a worker, and what crosses a worker's pipe."""

from __future__ import annotations

import os
import pickle
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from collapse_sim.checkpoints import Checkpoints, NoCheckpoints
from collapse_sim.components import RunContext
from collapse_sim.errors import describe_fault
from collapse_sim.loop import Generation, simulate
from collapse_sim.simulation import Simulation


def chain_dir(run_dir: Path, chain: int, *, vectorised: bool) -> Path:
    """Where a chain keeps its files: the run directory for a vectorised run, else ``chain_RR/``."""
    return Path(run_dir) if vectorised else Path(run_dir) / f"chain_{chain:02d}"


class Chain:
    """One chain's loop, in this process or a worker: its folder, checkpoints, and the generation it is in
    (which epoch reports and failures name)."""

    def __init__(
        self, pristine: bytes, run_dir: Path, chain: int, start: int, checkpoint: bool, on_epoch, prune=True
    ):
        self.sim: Simulation = pickle.loads(pristine)
        self.chain, self.generation = chain, start
        folder = chain_dir(run_dir, chain, vectorised=self.sim.chains.vectorised)
        window = self.sim.mixing.history_window
        self.checkpoints = (
            Checkpoints(folder, history_window=window, prune=prune) if checkpoint else NoCheckpoints()
        )
        self.context = RunContext(
            folder,
            chain,
            progress=lambda epoch, epochs: on_epoch(self.generation, epoch, epochs),
            run_dir=Path(run_dir),
        )

    def generations(self) -> Iterator[Generation]:
        """The chain's remaining generations, each yielded once finished."""
        for done in simulate(self.sim, self.context, self.checkpoints, start=self.generation):
            yield done
            self.generation = done.generation + 1


# What crosses a worker's pipe: a Generation, or one of these.
@dataclass(frozen=True)
class Epoch:
    """A worker's chain finished an epoch of ``generation``."""

    generation: int
    epoch: int
    epochs: int


@dataclass(frozen=True)
class Failed:
    """A worker's chain failed in ``generation``: one line for the user, the traceback for the log."""

    generation: int
    summary: str
    details: str


DONE = "done"  # the worker's chain has finished every generation
RECORDED = "recorded"  # the parent's answer once it has written a generation


def serve_parent(pristine: bytes, run_dir: str, chain: int, start: int, checkpoint: bool, conn) -> None:
    """In a worker process: run one chain, sending its generations (and epochs) to the parent."""
    run = None
    try:
        run = Chain(
            pristine, Path(run_dir), chain, start, checkpoint, lambda g, e, n: conn.send(Epoch(g, e, n))
        )
        for done in run.generations():
            conn.send(done)
            if conn.recv() != RECORDED:
                raise SystemExit(1)
        conn.send(DONE)
    except (EOFError, BrokenPipeError):  # the parent is gone
        os._exit(1)
    except BaseException as error:  # reported by the parent, which names the chain
        generation = run.generation if run is not None else start
        conn.send(Failed(generation, describe_fault(error), traceback.format_exc()))
        os._exit(1)
