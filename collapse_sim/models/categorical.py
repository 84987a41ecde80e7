"""Categorical distributions over named classes, vectorised over replicates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collapse_sim.draws import shape_probabilities


def class_counts(labels: np.ndarray, n_classes: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Counts per class, ``labels (R, N)`` -> ``(R, K)``, in one bincount (``weights (R, N)``: the
    total weight per class instead)."""
    r = labels.shape[0]
    offset = labels + n_classes * np.arange(r)[:, None]
    flat = None if weights is None else weights.ravel()
    return np.bincount(offset.ravel(), weights=flat, minlength=r * n_classes).reshape(r, n_classes)


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
        chains, classes = counts.shape
        # Chain r's labels in class order: position j holds the number of classes whose cumulative count
        # is at most j. One search over every chain's bounds, offset by r x n so that they stay sorted,
        # finds them all in O(R n log(R V)) time and O(R n) memory.
        bounds = np.cumsum(counts, axis=1) + n * np.arange(chains)[:, None]
        found = np.searchsorted(bounds.ravel(), np.arange(chains * n), side="right")
        labels = (found - classes * np.repeat(np.arange(chains), n)).reshape(chains, n)
        return rng.permuted(labels, axis=1)
