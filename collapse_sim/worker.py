"""The entry of a chain worker process, kept to the standard library until it is bound to its parent.

A spawned worker imports this module first; it asks Linux to kill it when its
parent dies (``PR_SET_PDEATHSIG``) before the slow imports of a chain, and
leaves at once if the parent died before that, so a killed run leaves nothing
running.
"""

from __future__ import annotations

import os
import signal

from collapse_sim import stopping


def _die_with_parent(parent: int) -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: a killed parent's workers end at their next send
        pass
    if os.getppid() != parent:  # the parent died before the request above took effect
        os._exit(1)


def main(parent: int, pristine: str, run_dir: str, chain: int, start: int, checkpoint: bool, conn) -> None:
    """Bind to the parent, then run one chain of the pickled simulation in the file ``pristine``,
    sending its generations (and epochs) to the parent. Ctrl-C and SIGTERM are the parent's to handle:
    it ends its workers once it has recorded what they finished."""
    stopping.ignore()
    _die_with_parent(parent)
    from pathlib import Path

    from collapse_sim.chain import serve_parent

    serve_parent(Path(pristine).read_bytes(), run_dir, chain, start, checkpoint, conn)
    # The chain is done and recorded, and every file it wrote was renamed into place whole: leave without
    # the interpreter's teardown (torch's and Ultralytics' take about a second), which the parent would
    # otherwise wait for, worker by worker.
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
