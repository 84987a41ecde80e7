"""What runs and sweeps show a person: terminal summaries, PNG plots, the sweep store.

``run`` reports one run, ``sweep`` a whole multirun directory, ``figures`` draws
the figures variables declare, ``classes`` finds the rarest classes and their
declared series. Which variables they show, in which order and how, is each
variable's own declaration (its ``key`` rank, its ``Figure``, ``Rarest`` and
``table``: ``collapse_sim.variables``); no module here names a family's variable.
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
