"""``python -m collapse_sim``."""

from collapse_sim.app import main

if __name__ == "__main__":  # chain workers are spawned and import this module; only the command runs main
    main()
