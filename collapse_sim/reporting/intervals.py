"""How intervals read on a page or a terminal; the intervals themselves are ``collapse_sim.intervals``'s."""

from __future__ import annotations

import numpy as np

from collapse_sim.intervals import (
    CONFIDENCE,
    MIN_CHAINS,
    SHARE,
    UNBOUNDED,
    band,
    mean_interval,
    valid_range,
    welch_difference,
)

__all__ = [
    "CONFIDENCE",
    "MIN_CHAINS",
    "SHARE",
    "UNBOUNDED",
    "band",
    "format_interval",
    "mean_interval",
    "no_interval_note",
    "plural",
    "valid_range",
    "welch_difference",
]


def no_interval_note(chains: int) -> str:
    """Why a run with too few chains shows none: ``2 chains: run replicates=4 for an interval``."""
    return f"{plural(chains, 'chain')}: run replicates=4 for an interval"


def format_interval(mean: float, low: float, high: float, digits: int = 4, signed: bool = False) -> str:
    """``0.512 [0.48, 0.54]`` (``signed``: ``+0.512 [+0.48, +0.54]``), or the mean alone if there is no
    interval (too few chains) or every chain has the same value."""
    if not np.isfinite(mean):
        return "n/a"
    sign = "+" if signed else ""
    if not (np.isfinite(low) and np.isfinite(high)) or high - low <= 1e-12 * max(1.0, abs(mean)):
        return f"{mean:{sign}.{digits}g}"
    return f"{mean:{sign}.{digits}g} [{low:{sign}.3g}, {high:{sign}.3g}]"


def plural(count: int, noun: str) -> str:
    """``1 chain``, ``2 chains``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
