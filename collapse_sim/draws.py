"""Drawing one class (or token) per row of probabilities, shaped by temperature, top-k and top-p.

A model of classes and a decoder of text draw alike; both stand on this module.
"""

from __future__ import annotations

import numpy as np


def shape_probabilities(
    probs: np.ndarray,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> np.ndarray:
    """Apply temperature ``p^(1/T)``, then top-k and nucleus (top-p) truncation."""
    with np.errstate(divide="ignore"):
        logits = np.log(probs) / temperature
    shaped = np.exp(logits - logits.max(axis=1, keepdims=True))
    shaped /= shaped.sum(axis=1, keepdims=True)
    order = np.argsort(-shaped, axis=1, kind="stable")
    ranked = np.take_along_axis(shaped, order, axis=1)
    keep = np.ones_like(ranked, dtype=bool)
    if top_k is not None:
        keep[:, top_k:] = False
    if top_p is not None:
        # Keep the smallest prefix whose mass reaches top_p (always at least one class).
        before = np.cumsum(ranked, axis=1) - ranked
        keep &= before < top_p
    mask = np.empty_like(keep)
    np.put_along_axis(mask, order, keep, axis=1)
    shaped = np.where(mask, shaped, 0.0)
    return shaped / shaped.sum(axis=1, keepdims=True)


def draw_tokens(probs: np.ndarray, rng: np.random.Generator, **options) -> np.ndarray:
    """One index per row of ``probs`` ``(D, V)``, shaped by ``shape_probabilities(**options)``."""
    shaped = np.cumsum(shape_probabilities(probs, **options), axis=1)
    draws = rng.random(len(shaped))[:, None] * shaped[:, -1:]
    return np.minimum((shaped < draws).sum(axis=1), probs.shape[1] - 1)
