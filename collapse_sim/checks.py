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


NEUTRAL_SAMPLING = {
    "temperature": 1.0,
    "top_k": None,
    "top_p": None,
    "beams": None,
    "repetition_penalty": 1.0,
}


def sampling_options(temperature: float, top_k: int | None, top_p: float | None) -> dict:
    """Checked sampling options: ``temperature`` > 0, ``top_k`` null or >= 1, ``top_p`` null or in (0, 1]."""
    if not temperature > 0:
        raise ConfigError("temperature", f"must be > 0 (1 = faithful sampling), got {temperature!r}")
    if top_k is not None and not (isinstance(top_k, int) and top_k >= 1):
        raise ConfigError("top_k", f"must be null or an integer >= 1, got {top_k!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ConfigError("top_p", f"must be null or in (0, 1], got {top_p!r}")
    return {"temperature": temperature, "top_k": top_k, "top_p": top_p}


def decoding_options(beams: int | None, repetition_penalty: float, sampling: dict) -> dict:
    """Checked beam search and repetition penalty: ``beams`` null or >= 1 with neutral ``sampling``
    (beam search draws nothing), ``repetition_penalty`` > 0 (1 = none)."""
    if beams is not None and not (isinstance(beams, int) and beams >= 1):
        raise ConfigError("beams", f"must be null (sample) or an integer >= 1 (beam search), got {beams!r}")
    if beams and beams > 1 and set_options(sampling):
        raise ConfigError(
            "beams",
            f"is {beams}: beam search keeps the likeliest continuations and draws nothing, so "
            f"{', '.join(set_options(sampling))} would be ignored; set beams=null to sample, or leave them",
        )
    if not repetition_penalty > 0:
        raise ConfigError(
            "repetition_penalty",
            f"must be > 0 (1 = none, > 1 makes repeats less likely), got {repetition_penalty!r}",
        )
    return {"beams": beams, "repetition_penalty": float(repetition_penalty)}


def set_options(options: dict) -> tuple[str, ...]:
    """The sampling options set away from their neutral value (the model must honour those)."""
    return tuple(k for k, v in options.items() if v != NEUTRAL_SAMPLING[k])
