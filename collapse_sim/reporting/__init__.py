"""What runs and sweeps show a person: terminal summaries, PNG plots, the sweep store.

``run`` reports one run, ``sweep`` a whole multirun directory, ``detection`` the
detection extras (rarest classes, per-class AP, sample images). Which variables
they show, in which order, is each variable's own declaration (its ``key`` rank,
``collapse_sim.metrics.key_variables``).
"""

# Columns of a sweep's arm comparison (sweep_comparison.csv); any others name the settings held fixed.
COMPARISON_COLUMNS = (
    "variable",
    "arm",
    "reference",
    "mean_arm",
    "mean_reference",
    "difference",
    "low",
    "high",
    "chains_arm",
    "chains_reference",
    "rate_arm",
    "rate_reference",
    "rate_difference",
    "rate_low",
    "rate_high",
)
