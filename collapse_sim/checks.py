"""Range checks shared by components' constructors (sources, generators, trainers)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from collapse_sim.errors import ConfigError


def positive_int(key: str, value: int, *, minimum: int = 1) -> int:
    """Reject integers below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(key, f"must be an integer >= {minimum}, got {value!r}")
    return value


def per_dimension(key: str, value: float | Sequence[float], dim: int, *, positive: bool) -> np.ndarray:
    """A scalar broadcast to ``dim`` entries, or a list of exactly ``dim`` numbers."""
    array = (
        np.broadcast_to(np.asarray(value, dtype=float), (dim,))
        if np.ndim(value) == 0
        else (np.asarray(list(value), dtype=float))
    )
    if array.shape != (dim,):
        raise ConfigError(key, f"must be one number or a list of {dim} numbers (source.dim), got {value!r}")
    if positive and np.any(array <= 0):
        raise ConfigError(key, f"must be > 0, got {value!r}")
    return np.array(array)
