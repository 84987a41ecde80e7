"""Run a simulation's chains: one vectorised loop, or R detection chains side by side; yield what they finish.

Each detection chain is the ordinary loop (``loop.simulate``) with its own
random streams (keyed by the chain), folder (``<run>/chain_RR/``) and
checkpoints. ``run_chains`` yields every finished generation of every chain to
its caller, the run's one writer, and a chain goes on only once the caller has
recorded it. ``workers=1`` runs the chains one after another in this process;
more run each chain in a worker process (spawned, so no torch state is
shared), which sends each finished generation here and waits until it is
recorded. A worker dies with its parent (``collapse_sim.worker``), so a
killed run leaves nothing running.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import tempfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Protocol

from collapse_sim import stopping
from collapse_sim import worker as chain_worker
from collapse_sim.chain import DONE, RECORDED, Chain, Epoch, Failed
from collapse_sim.errors import RunFailure, describe_fault, log_details, stopped
from collapse_sim.loop import Generation
from collapse_sim.simulation import Simulation


class ChainProgress(Protocol):
    """What the runner tells a progress display."""

    def epoch(self, chain: int, generation: int, epoch: int, epochs: int) -> None: ...

    def chain_done(self, chain: int) -> None: ...


class QuietProgress:
    """Shows nothing (in-memory runs, tests)."""

    def epoch(self, chain: int, generation: int, epoch: int, epochs: int) -> None:
        """Nothing."""

    def chain_done(self, chain: int) -> None:
        """Nothing."""


def run_chains(
    sim: Simulation,
    run_dir: Path,
    *,
    starts: list[int],
    progress: ChainProgress,
    checkpoint: bool = True,
    prune: bool = True,
) -> Iterator[Generation]:
    """Run every chain from its own first incomplete generation (``starts``); yield each finished one.

    ``prune=False``: a chain run here keeps its checkpoints for the caller to prune (``keep_from``) once
    its store holds the generations; workers' chains always prune (their generations are written at once).
    """
    plan = sim.chains
    pending = [chain for chain in range(plan.chains) if starts[chain] < sim.generations]
    # Components keep per-chain state (folders, caches), so each chain starts from the built,
    # never-run simulation; a worker process gets the same bytes.
    pristine = pickle.dumps(sim)
    if plan.workers == 1 or len(pending) <= 1 or not _can_spawn():
        for chain in pending:
            yield from _run_here(pristine, run_dir, chain, starts[chain], progress, checkpoint, prune)
        return
    yield from _run_in_workers(pristine, run_dir, pending, starts, plan.workers, progress, checkpoint)


def _can_spawn() -> bool:
    """Whether this process may start chain workers.

    A daemonic process may not; inside a joblib (loky) worker a spawned child
    cannot restore loky's start method. There the chains run one after another
    in this process instead, to the same values.
    """
    method = multiprocessing.get_start_method(allow_none=True)
    return not multiprocessing.current_process().daemon and method in (None, "fork", "spawn", "forkserver")


def _run_here(pristine, run_dir, chain, start, progress: ChainProgress, checkpoint: bool, prune: bool):
    on_epoch = lambda g, e, n: progress.epoch(chain, g, e, n)  # noqa: E731
    run = Chain(pristine, run_dir, chain, start, checkpoint, on_epoch, prune)
    try:
        yield from run.generations()
    except OSError as error:
        where = "" if run.sim.chains.vectorised else f"chain {chain} "
        raise stopped(
            f"{where}stopped in generation {run.generation}: {describe_fault(error)}", run_dir
        ) from None
    progress.chain_done(chain)


@dataclass
class _Worker:
    """The parent's record of one worker: its chain, process, the generation it is in, its failure."""

    chain: int
    process: multiprocessing.Process
    generation: int
    failure: RunFailure | None = None
    heard: bool = False  # whether the worker has sent anything


def _run_in_workers(pristine, run_dir, pending, starts, workers, progress, checkpoint):
    context = multiprocessing.get_context("spawn")
    queue, active = deque(pending), {}  # connection -> _Worker
    pristine_path = _hand_over(pristine, Path(run_dir))
    try:
        while queue or active:
            while queue and len(active) < workers:
                chain = queue.popleft()
                ours, theirs = context.Pipe()
                process = context.Process(
                    target=chain_worker.main,
                    args=(os.getpid(), pristine_path, str(run_dir), chain, starts[chain], checkpoint, theirs),
                    name=f"collapse_sim chain {chain}",
                    daemon=True,
                )
                with stopping.signals_ignored():  # the worker starts deaf to Ctrl-C (see stopping)
                    process.start()
                theirs.close()  # so the parent sees EOF when the worker dies
                active[ours] = _Worker(chain, process, starts[chain])
            # A worker that dies before it reads its pipe (a failed spawn) leaves the pipe open in
            # multiprocessing's fd sharer, so no EOF comes: its process sentinel says it ended.
            ready = set(wait([*active, *(w.process.sentinel for w in active.values())]))
            for conn in [c for c in active if c in ready]:
                yield from _serve(conn, active, progress, run_dir)
            for conn, worker in list(active.items()):
                if worker.process.sentinel in ready and not conn.poll():  # nothing more will come
                    del active[conn]
                    _ended(worker, run_dir)
    finally:
        for worker in active.values():
            worker.process.kill()
            worker.process.join()
        os.unlink(pristine_path)


def _hand_over(pristine: bytes, run_dir: Path) -> str:
    """The pickled simulation in a file of the run directory, which each worker reads.

    Pickled into the spawn pipe instead, megabytes block ``Process.start``
    forever when the child dies before reading them (a script without a main guard).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in run_dir.glob(".simulation-*.pickle"):  # left by a killed run (the directory is locked)
        stale.unlink()
    handle, path = tempfile.mkstemp(dir=run_dir, prefix=".simulation-", suffix=".pickle")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(pristine)
    except OSError as error:
        os.unlink(path)
        fault = describe_fault(error)
        raise stopped(f"could not hand the simulation to the chain workers: {fault}", run_dir) from None
    return path


def _ended(worker: _Worker, run_dir: Path) -> None:
    """A worker's process ended before it said it was done: the run fails, naming how."""
    worker.process.join()
    if worker.failure is not None:
        raise worker.failure from None
    code = worker.process.exitcode
    how = f"killed by {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"
    if not worker.heard and code and code > 0:  # it failed on its own before its chain began
        raise RunFailure(
            f"chain {worker.chain}'s worker process ended ({how}) before it started its chain; its error "
            "is above. A script that calls collapse_sim.run must do so under `if __name__ == "
            '"__main__":`, since each worker imports the script again (multiprocessing\'s spawn)'
        ) from None
    raise stopped(
        f"chain {worker.chain} stopped during generation {worker.generation} ({how})", run_dir
    ) from None


def _serve(conn: Connection, active: dict, progress: ChainProgress, run_dir: Path) -> Iterator[Generation]:
    """Handle one message from a worker, or its end; a finished generation is yielded, then acknowledged."""
    worker: _Worker = active[conn]
    try:
        message = conn.recv()
    except (EOFError, ConnectionResetError):
        del active[conn]
        _ended(worker, run_dir)
    worker.heard = True
    if isinstance(message, Epoch):
        progress.epoch(worker.chain, message.generation, message.epoch, message.epochs)
    elif isinstance(message, Generation):
        yield message
        conn.send(RECORDED)
        worker.generation = message.generation + 1
    elif message == DONE:
        worker.process.join()
        del active[conn]
        progress.chain_done(worker.chain)
    elif isinstance(message, Failed):
        worker.generation = message.generation
        worker.failure = stopped(
            f"chain {worker.chain} failed in generation {message.generation}: {message.summary}", run_dir
        )
        log_details(f"chain {worker.chain} failed:\n{message.details}")
