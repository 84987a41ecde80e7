"""Ordinary least squares, batched over replicates."""

from __future__ import annotations

import numpy as np

from collapse_sim.components import Trainer, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.models.linear import LinearModel
from collapse_sim.samples import Samples


class OLSTrainer(Trainer):
    """Least-squares weights; the noise level is the residual standard deviation."""

    needs = data_of("regression")
    sampling_options = LinearModel.sampling_options

    def fit(self, data: Samples, *, init=None, rng=None, generation: int = 0) -> LinearModel:
        """Solve the normal equations for every replicate at once."""
        x, y = data["x"], data["y"]
        n, d = x.shape[1], x.shape[2]
        if n <= d:
            raise ConfigError("n_samples", f"must exceed source.dim = {d} for least squares, got {n}")
        xt = x.transpose(0, 2, 1)  # matmul, not einsum: einsum would build an (R, N, d, d) temporary
        weights = np.linalg.solve(xt @ x, xt @ y[..., None])[..., 0]
        residual = y - np.einsum("rnd,rd->rn", x, weights)
        return LinearModel(weights, float(np.sqrt(np.mean(residual**2) * n / (n - d))))
