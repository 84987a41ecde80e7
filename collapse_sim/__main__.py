"""``python -m collapse_sim``."""

from collapse_sim.app import main

main()
