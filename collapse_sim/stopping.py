"""Ctrl-C and SIGTERM end a run cleanly: one paragraph, the command that resumes it, exit 130 or 143.

The run's process turns the first SIGINT (Ctrl-C) or SIGTERM (``scancel``, a
container stop, a SLURM preemption) into ``Stopped``, raised where the run
is; the runner ends its chain workers and says what is kept. A generation
being recorded (``shielded``) is finished first, so nothing is left
half-written. A second signal ends the process at once. Chain workers ignore
both signals from birth: the terminal sends Ctrl-C to every process of the
group, and the run's one writer decides how they end.

Standard library only: a chain worker imports this before anything else.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)
NAMES = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}


class Stopped(BaseException):
    """The run was asked to stop by a signal (a BaseException, like KeyboardInterrupt: no ``except
    Exception`` of a library or of Hydra's job runner swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(NAMES.get(signum, f"signal {signum}"))
        self.signum = signum

    @property
    def code(self) -> int:
        """The shell's exit code for a process ended by the signal: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum

    @property
    def what(self) -> str:
        """``Ctrl-C (SIGINT)`` or ``SIGTERM``."""
        return NAMES.get(self.signum, f"signal {self.signum}")


_state = {"stopping": None, "shields": 0, "pending": None}


def _handle(signum: int, frame) -> None:
    if _state["stopping"] is not None or _state["pending"] is not None:  # the second: no more waiting
        os._exit(128 + signum)
    if _state["shields"]:
        _state["pending"] = signum
        return
    _state["stopping"] = signum
    raise Stopped(signum)


def install() -> None:
    """Turn SIGINT and SIGTERM into ``Stopped`` in this process (the run's)."""
    _state.update(stopping=None, shields=0, pending=None)
    for signum in SIGNALS:
        signal.signal(signum, _handle)


def ignore() -> None:
    """Ignore SIGINT and SIGTERM (a chain worker: its parent ends it)."""
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


@contextmanager
def shielded() -> Iterator[None]:
    """Finish the block before a signal that arrives during it stops the run (a generation's record)."""
    _state["shields"] += 1
    try:
        yield
    finally:
        _state["shields"] -= 1
        pending = _state["pending"]
        if not _state["shields"] and pending is not None:
            _state.update(pending=None, stopping=pending)
            raise Stopped(pending)


@contextmanager
def signals_ignored() -> Iterator[None]:
    """Ignore both signals for the block: a process spawned in it starts ignoring them (an ignored
    signal stays ignored across exec, and Python then installs no KeyboardInterrupt handler). The block
    is a process start, milliseconds: a signal in it is ignored, the next one is heard."""
    before = {signum: signal.getsignal(signum) for signum in SIGNALS}
    ignore()
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
