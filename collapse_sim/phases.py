"""Named moments of one command, for ``benchmarks/startup.py``: with ``COLLAPSE_SIM_PHASES=<file>`` set,
each ``mark(name)`` is written to the file as ``name seconds`` (``time.perf_counter``) at exit.

Standard library only, and nothing happens without the variable: the command pays a dictionary lookup.
"""

from __future__ import annotations

import atexit
import os
import time

_FILE = os.environ.get("COLLAPSE_SIM_PHASES")
_marks: list[tuple[str, float]] = []


def mark(name: str) -> None:
    """Note that ``name`` happened now (when a benchmark asked for phases)."""
    if _FILE:
        _marks.append((name, time.perf_counter()))


def _write() -> None:
    if _FILE and _marks:
        with open(_FILE, "a") as file:
            file.writelines(f"{name} {moment}\n" for name, moment in _marks)


atexit.register(_write)
