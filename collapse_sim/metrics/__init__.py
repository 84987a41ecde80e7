"""Metrics: each component returns one generation's variables as an ``xarray.Dataset``.

Each variable carries its ``units``, a ``description`` and, where it has one,
its valid range as CF conventions spell it (``valid_min``, ``valid_max``):
intervals drawn or printed for it are kept inside that range.
"""

from __future__ import annotations

import xarray as xr

SHARE, NON_NEGATIVE = (0.0, 1.0), (0.0, None)
VALID_RANGES = {
    **dict.fromkeys(
        (
            "map50",
            "map50_95",
            "ap50_95",
            "recall",
            "ap50_95_by_size",
            "class_frequency",
            "gini_simpson",
            "missing_mass",
            "label_precision",
            "label_recall",
            "label_precision_by_class",
            "label_recall_by_class",
            "real_fraction",
            "tail_mass",
            "recognisability",
            "hapax_share",
            "distinct_n",
            "repetition",
            "self_bleu",
            "unigram_js",
            "rare_word_recall",
        ),
        SHARE,
    ),
    **dict.fromkeys(
        (
            "train_size",
            "wall_time_s",
            "surviving_classes",
            "entropy",
            "objects_per_image",
            "box_size_distance",
            "box_size_spread",
            "sharpness",
            "sharpness_by_class",
            "colour_shift",
            "variance",
            "mean_shift",
            "w2",
            "param_error",
            "test_mse",
            "test_bits_per_char",
            "reference_bits_per_char",
            "types",
        ),
        NON_NEGATIVE,
    ),
}  # kid is an unbiased estimate (it can fall below 0) and zipf_slope a slope: no range


def variable(dims, values, *, units: str, description: str) -> xr.Variable:
    """A data variable carrying its units and a one-line description."""
    return xr.Variable(dims, values, attrs={"units": units, "description": description})


def measured(variables: dict, **dataset) -> xr.Dataset:
    """A generation's variables as a dataset (``dataset``: its coords), each with its valid range."""
    ds = xr.Dataset(variables, **dataset)
    for name, (low, high) in VALID_RANGES.items():
        if name in ds:
            ds[name].attrs.update({"valid_min": low} | ({} if high is None else {"valid_max": high}))
    return ds
