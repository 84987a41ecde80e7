"""Run a simulation's chains: one vectorised loop, or R detection chains side by side, with one writer.

Each detection chain is the ordinary loop (``loop.simulate``) with its own
random streams (keyed by the chain), files (``<run>/chain_RR/``) and
checkpoints. ``workers=1`` runs the chains one after another in this process;
more run each chain in a worker process (spawned, so no torch state is
shared), which sends each finished generation to this process and waits until
it is written: the parent is the only writer of the store, and a worker never
deletes a checkpoint a resumed run could still need. A worker dies with its
parent (Linux ``PR_SET_PDEATHSIG``), so a killed run leaves nothing running.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import traceback
from collections import deque
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Protocol

from collapse_sim.build import Simulation, attach_workdir, build
from collapse_sim.checkpoints import Checkpoints, NoCheckpoints
from collapse_sim.errors import RunFailure, describe_fault
from collapse_sim.loop import simulate
from collapse_sim.protocols import ReportsEpochs


class ChainProgress(Protocol):
    """What the runner tells a progress display."""

    def epoch(self, chain: int, generation: int, epoch: int, epochs: int) -> None: ...

    def generation_done(self, chain: int, generation: int) -> None: ...

    def chain_done(self, chain: int) -> None: ...


class QuietProgress:
    """Shows nothing (in-memory runs, tests)."""

    def epoch(self, chain: int, generation: int, epoch: int, epochs: int) -> None:
        """Nothing."""

    def generation_done(self, chain: int, generation: int) -> None:
        """Nothing."""

    def chain_done(self, chain: int) -> None:
        """Nothing."""


def chain_dir(run_dir: Path, chain: int, *, vectorised: bool) -> Path:
    """Where a chain keeps its files: the run directory for a vectorised run, else ``chain_RR/``."""
    return Path(run_dir) if vectorised else Path(run_dir) / f"chain_{chain:02d}"


class ChainView:
    """One chain's view of the run's store: its ``replicate`` slot."""

    def __init__(self, store, chain: int | None) -> None:
        self.store, self.chain = store, chain

    def write(self, generation: int, results) -> None:
        """Write the chain's variables of one generation."""
        self.store.write(generation, results, chain=self.chain)

    def mark_complete(self, generation: int) -> None:
        """Mark the chain's generation written."""
        self.store.mark_complete(generation, chain=self.chain)


def run_chains(
    resolved: dict,
    choices: dict,
    sim: Simulation,
    store,
    run_dir: Path,
    *,
    starts: list[int],
    progress: ChainProgress,
    checkpoint: bool = True,
) -> None:
    """Run every chain from its own first incomplete generation (``starts``) to the end."""
    plan = sim.chains
    pending = [chain for chain in range(plan.chains) if starts[chain] < sim.generations]
    if plan.workers == 1 or len(pending) <= 1 or not _can_spawn():
        for number, chain in enumerate(pending):
            here = sim if number == 0 else build(resolved, choices)  # components keep per-chain state
            _run_here(here, store, run_dir, chain, starts[chain], progress, checkpoint)
        return
    _run_in_workers(resolved, choices, store, run_dir, pending, starts, plan.workers, progress, checkpoint)


def _can_spawn() -> bool:
    """Whether this process may start chain workers.

    A daemonic process may not; inside a joblib (loky) worker a spawned child
    cannot restore loky's start method. There the chains run one after another
    in this process instead, to the same values.
    """
    method = multiprocessing.get_start_method(allow_none=True)
    return not multiprocessing.current_process().daemon and method in (None, "fork", "spawn", "forkserver")


def _checkpoints(sim: Simulation, folder: Path, checkpoint: bool):
    return Checkpoints(folder, history_window=sim.mixing.history_window) if checkpoint else NoCheckpoints()


class _ChainRun:
    """One chain's loop, in this process or a worker: its files, its epoch reports, and the generation
    it is in (which a failure names)."""

    def __init__(self, sim: Simulation, run_dir: Path, chain: int, start: int, checkpoint: bool) -> None:
        self.sim, self.chain, self.generation = sim, chain, start
        self.folder = chain_dir(run_dir, chain, vectorised=sim.chains.vectorised)
        self.checkpoints = _checkpoints(sim, self.folder, checkpoint)
        attach_workdir(sim, self.folder)

    def run(self, sink, *, on_epoch, on_generation) -> None:
        """Simulate the chain's remaining generations into ``sink``, reporting epochs and generations."""
        if isinstance(self.sim.trainer, ReportsEpochs):
            self.sim.trainer.use_progress(lambda epoch, epochs: on_epoch(self.generation, epoch, epochs))

        def done(generation: int) -> None:
            self.generation = generation + 1
            on_generation(generation)

        simulate(
            self.sim, sink, self.checkpoints, start=self.generation, chain=self.chain, on_generation=done
        )


def _run_here(sim, store, run_dir, chain, start, progress: ChainProgress, checkpoint: bool) -> None:
    vectorised = sim.chains.vectorised
    run = _ChainRun(sim, run_dir, chain, start, checkpoint)
    sink = store if vectorised else ChainView(store, chain)
    try:
        run.run(
            sink,
            on_epoch=lambda g, e, n: progress.epoch(chain, g, e, n),
            on_generation=lambda g: progress.generation_done(chain, g),
        )
    except OSError as error:
        where = "" if vectorised else f"chain {chain} "
        raise RunFailure(
            f"{where}stopped in generation {run.generation}: {describe_fault(error)}. Every complete "
            f"generation is kept in the store; fix the cause and rerun into {run_dir} to resume"
        ) from None
    progress.chain_done(chain)


class _RemoteView:
    """A worker's store: hands each finished generation to the parent and waits until it is written."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.pending = conn, None

    def write(self, generation: int, results) -> None:
        """Hold the results until the generation is complete."""
        self.pending = results

    def mark_complete(self, generation: int) -> None:
        """Send the generation; return once the parent has written and marked it."""
        self.conn.send(("generation", generation, self.pending))
        if self.conn.recv() != "written":
            raise SystemExit(1)


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: a killed parent's workers end at their next send
        pass


def _worker(
    resolved: dict, choices: dict, run_dir: str, chain: int, start: int, checkpoint: bool, conn
) -> None:
    """A worker process: run one chain, sending its generations (and epochs) to the parent."""
    _die_with_parent()
    run = None
    try:
        run = _ChainRun(build(resolved, choices), Path(run_dir), chain, start, checkpoint)
        run.run(
            _RemoteView(conn),
            on_epoch=lambda g, e, n: conn.send(("epoch", g, e, n)),
            on_generation=lambda g: None,  # the parent counts generations as it writes them
        )
        conn.send(("done",))
    except (EOFError, BrokenPipeError):  # the parent is gone
        os._exit(1)
    except BaseException as error:  # reported by the parent, which names the chain
        generation = run.generation if run is not None else start
        conn.send(("error", generation, describe_fault(error), traceback.format_exc()))
        os._exit(1)


def _run_in_workers(
    resolved, choices, store, run_dir, pending, starts, workers, progress, checkpoint
) -> None:
    context = multiprocessing.get_context("spawn")
    queue, active = deque(pending), {}  # connection -> [chain, process, generation, error]
    try:
        while queue or active:
            while queue and len(active) < workers:
                chain = queue.popleft()
                ours, theirs = context.Pipe()
                process = context.Process(
                    target=_worker,
                    args=(resolved, choices, str(run_dir), chain, starts[chain], checkpoint, theirs),
                    name=f"collapse_sim chain {chain}",
                    daemon=True,
                )
                process.start()
                theirs.close()  # so the parent sees EOF when the worker dies
                active[ours] = [chain, process, starts[chain], None]
            for conn in wait(list(active)):
                _serve(conn, active, store, progress, run_dir)
    finally:
        for _, process, *_ in active.values():
            process.kill()
            process.join()


def _serve(conn: Connection, active: dict, store, progress: ChainProgress, run_dir: Path) -> None:
    """Handle one message from a worker, or its end."""
    state = active[conn]
    chain, process = state[0], state[1]
    try:
        message = conn.recv()
    except (EOFError, ConnectionResetError):
        process.join()
        del active[conn]
        if state[3] is not None:
            raise RunFailure(state[3]) from None
        code = process.exitcode
        how = f"killed by {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"
        raise RunFailure(
            f"chain {chain} stopped during generation {state[2]} ({how}); every generation complete in "
            f"every chain is kept in the store. Rerun into {run_dir} to resume"
        ) from None
    kind = message[0]
    if kind == "epoch":
        progress.epoch(chain, *message[1:])
    elif kind == "generation":
        _, generation, results = message
        store.write(generation, results, chain=chain)
        store.mark_complete(generation, chain=chain)
        conn.send("written")
        state[2] = generation + 1
        progress.generation_done(chain, generation)
    elif kind == "done":
        process.join()
        del active[conn]
        progress.chain_done(chain)
    elif kind == "error":
        _, generation, summary, details = message
        state[2] = generation
        state[3] = (
            f"chain {chain} failed in generation {generation}: {summary}. Every generation complete in every "
            f"chain is kept in the store; fix the cause and rerun into {run_dir} to resume"
        )
        import logging

        logging.getLogger("collapse_sim").error("chain %d failed:\n%s", chain, details)
