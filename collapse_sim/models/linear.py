"""Linear regression models, vectorised over replicates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LinearModel:
    """``y = x . weights + noise``; ``weights (R, d)``, ``noise_std`` the label noise."""

    weights: np.ndarray
    noise_std: float

    sampling_options = ()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Noise-free predictions, ``x (R, N, d)`` -> ``(R, N)``."""
        return np.einsum("rnd,rd->rn", x, self.weights)
