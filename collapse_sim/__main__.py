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
    run()


if __name__ == "__main__":  # chain workers are spawned and import this module: only the command runs
    main()
