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


NEUTRAL_SAMPLING = {"temperature": 1.0, "top_k": None, "top_p": None}


def sampling_options(temperature: float, top_k: int | None, top_p: float | None) -> dict:
    """Checked sampling options: ``temperature`` > 0, ``top_k`` null or >= 1, ``top_p`` null or in (0, 1]."""
    if not temperature > 0:
        raise ConfigError("temperature", f"must be > 0 (1 = faithful sampling), got {temperature!r}")
    if top_k is not None and not (isinstance(top_k, int) and top_k >= 1):
        raise ConfigError("top_k", f"must be null or an integer >= 1, got {top_k!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ConfigError("top_p", f"must be null or in (0, 1], got {top_p!r}")
    return {"temperature": temperature, "top_k": top_k, "top_p": top_p}


def set_options(options: dict, neutral: dict = NEUTRAL_SAMPLING) -> tuple[str, ...]:
    """The options set away from their ``neutral`` value (the model must honour those)."""
    return tuple(k for k, v in options.items() if v != neutral[k])
