"""``python -m collapse_sim`` (and the ``collapse-sim`` console script)."""

from __future__ import annotations


def main() -> None:
    """Hear Ctrl-C and SIGTERM before the slow imports, then run the command line."""
    from collapse_sim import phases, stopping

    phases.mark("started")
    stopping.install()
    try:
        from collapse_sim.app import main as run
    except stopping.Stopped as stopped:  # during the imports: nothing was started
        from collapse_sim.errors import exit_with

        exit_with(
            f"by {stopped.what} before any work; nothing was written", code=stopped.code, label="stopped"
        )
    phases.mark("imported")
    try:
        run()
    except SystemExit as stop:
        leave(stop.code)
    leave(0)


def leave(code) -> None:
    """End the command with ``code`` (as ``sys.exit`` reads it) once everything is written: threads are
    finished and the exit hooks run (the trackers', zarr's, multiprocessing's, the phase marks) as at any
    exit, the streams and logs are flushed, and only the interpreter's teardown of every module it
    imported (about 0.4 s once xarray, zarr and matplotlib are loaded) is skipped: a run's files are all
    closed or renamed into place by then."""
    import atexit
    import logging
    import os
    import sys
    import threading

    finish_threads = getattr(threading, "_shutdown", None)  # what the interpreter runs first at exit
    run_exit_hooks = getattr(atexit, "_run_exitfuncs", None)
    if finish_threads is None or run_exit_hooks is None:  # an interpreter without them: its own exit
        sys.exit(code)
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): printed, exit status 1
        sys.stderr.write(f"{code}\n")
        code = 1
    # As the interpreter ends: threads joined and their hooks run (joblib's workers are told to leave
    # there), then the exit hooks; only the teardown of the modules is skipped.
    finish_threads()
    run_exit_hooks()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can be said
            pass
    os._exit(code)


if __name__ == "__main__":  # chain workers are spawned and import this module: only the command runs
    main()
