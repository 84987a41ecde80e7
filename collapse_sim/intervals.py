"""95 % intervals across independent chains: Student t for a mean, Welch for a difference of two means."""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import special

CONFIDENCE = 0.95


MIN_CHAINS = 3  # a Student-t 95 % interval over 2 chains spans the mean +- 12.7 half-ranges: none is shown
UNBOUNDED, SHARE = (-np.inf, np.inf), (0.0, 1.0)


def valid_range(da: xr.DataArray) -> tuple[float, float]:
    """A variable's valid range from its CF attributes ``valid_min`` and ``valid_max`` ."""
    return float(da.attrs.get("valid_min", -np.inf)), float(da.attrs.get("valid_max", np.inf))


def mean_interval(
    values, valid: tuple[float, float] = UNBOUNDED, confidence: float = CONFIDENCE
) -> tuple[float, float, float, int]:
    """Mean, lower and upper bound at ``confidence`` (95 %: Student t, kept inside ``valid``) and the number
    of finite values.

    The bounds are NaN for fewer than ``MIN_CHAINS`` values.
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    n = v.size
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    mean = float(v.mean())
    if n < MIN_CHAINS:
        return mean, np.nan, np.nan, n
    # Student t's quantile from scipy.special: scipy.stats costs a third of a second to import.
    half = float(special.stdtrit(n - 1, 0.5 + confidence / 2) * v.std(ddof=1) / np.sqrt(n))
    return mean, max(mean - half, valid[0]), min(mean + half, valid[1]), n


def band(da: xr.DataArray, dim: str = "replicate") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over ``dim`` and its 95 % interval inside the variable's valid range, per generation."""
    values = np.moveaxis(np.asarray(da.transpose(..., dim).values, dtype=float), -1, 0)
    valid = valid_range(da)
    rows = [mean_interval(values[:, i], valid) for i in range(values.shape[1])] if values.ndim == 2 else []
    mean, low, high = (np.array([r[j] for r in rows]) for j in range(3))
    return mean, low, high


def welch_difference(arm, reference) -> tuple[float, float, float]:
    """Difference of means ``arm - reference`` with its 95 % Welch interval (NaN where either has < 2)."""
    a = np.asarray(arm, dtype=float).ravel()
    b = np.asarray(reference, dtype=float).ravel()
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return np.nan, np.nan, np.nan
    difference = float(a.mean() - b.mean())
    # Values equal up to rounding (a share every chain keeps, its slope) have no interval to give.
    constant = max(a.std(), b.std()) <= 1e-12 * max(1.0, abs(a.mean()), abs(b.mean()))
    if a.size < 2 or b.size < 2 or constant:
        return difference, np.nan, np.nan
    import warnings

    from scipy import stats  # sweep reports only

    with warnings.catch_warnings():
        # One arm constant (every chain keeps the same share) has variance 0, and the interval is then
        # the other arm's alone; scipy's precision warning concerns only that zero.
        warnings.filterwarnings("ignore", "Precision loss occurred in moment calculation", RuntimeWarning)
        result = stats.ttest_ind(a, b, equal_var=False)
    low, high = result.confidence_interval(CONFIDENCE)
    return difference, float(low), float(high)
