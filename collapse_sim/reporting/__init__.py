"""What runs and sweeps show a person: terminal summaries, PNG plots, the sweep store.

``run`` reports one run, ``sweep`` a whole multirun directory, ``detection`` the
detection extras (rarest classes, per-class AP, sample images).
"""

# Variables worth a line in the summary and a panel in the plots, in order.
KEY_VARIABLES = (
    "map50_95",
    "map50",
    "kid",
    "sharpness",
    "colour_shift",
    "recognisability",
    "variance",
    "mean_shift",
    "w2",
    "tail_mass",
    "surviving_classes",
    "gini_simpson",
    "entropy",
    "missing_mass",
    "box_size_distance",
    "box_size_spread",
    "label_precision",
    "label_recall",
    "param_error",
    "test_mse",
    "test_bits_per_char",
    "rare_word_recall",
    "types",
    "self_bleu",
    "unigram_js",
    "real_fraction",
    "train_size",
)

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
