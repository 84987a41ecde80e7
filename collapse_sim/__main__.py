"""``python -m collapse_sim``."""

if (
    __name__ == "__main__"
):  # chain workers are spawned and import this module: only the command imports the app
    from collapse_sim.app import main

    main()
