"""Categorical distributions over named classes, vectorised over replicates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def class_counts(labels: np.ndarray, n_classes: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Counts per class, ``labels (R, N)`` -> ``(R, K)``, in one bincount (``weights (R, N)``: the
    total weight per class instead)."""
    r = labels.shape[0]
    offset = labels + n_classes * np.arange(r)[:, None]
    flat = None if weights is None else weights.ravel()
    return np.bincount(offset.ravel(), weights=flat, minlength=r * n_classes).reshape(r, n_classes)


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


@dataclass(frozen=True)
class CategoricalModel:
    """Class probabilities ``probs (R, K)`` with ``class_names``."""

    probs: np.ndarray
    class_names: tuple[str, ...]

    field = "label"  # the name of its samples in ``Samples.fields``
    sampling_options = ("temperature", "top_k", "top_p")

    def sample(
        self,
        n: int,
        rng: np.random.Generator,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> np.ndarray:
        """Draw ``n`` labels per replicate, shape ``(R, n)``, in random order."""
        probs = shape_probabilities(self.probs, temperature=temperature, top_k=top_k, top_p=top_p)
        counts = rng.multinomial(n, probs)
        bounds = np.cumsum(counts, axis=1)
        labels = (np.arange(n)[None, :, None] >= bounds[:, None, :]).sum(-1)
        return rng.permuted(labels, axis=1)
