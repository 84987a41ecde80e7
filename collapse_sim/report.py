"""``python -m collapse_sim.report SWEEP_DIR`` (also ``collapse-sim-report``): a sweep's store and plots."""

from collapse_sim.reporting.sweep import main

if __name__ == "__main__":
    main()
