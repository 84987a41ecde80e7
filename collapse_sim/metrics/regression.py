"""Linear-regression metrics against the true weights and a fixed real test set."""

from __future__ import annotations

import xarray as xr

from collapse_sim.components import Metric, RealData, data_of
from collapse_sim.metrics import NON_NEGATIVE, measured, variable
from collapse_sim.models.linear import LinearModel
from collapse_sim.samples import Samples


class RegressionMetrics(Metric):
    """``param_error`` (squared weight error) and ``test_mse`` on the real test set."""

    needs = data_of("regression")

    def measure(self, model: LinearModel, data: Samples, real: RealData) -> xr.Dataset:
        """Distance of the fitted weights from the truth and error on fresh real data."""
        error = ((model.weights - real.truth.weights) ** 2).sum(axis=1)
        residual = real.test["y"] - model.predict(real.test["x"])
        rep = ("replicate",)
        return measured(
            {
                "param_error": variable(
                    rep,
                    error,
                    units="1",
                    description="squared distance of the fitted weights to the true ones",
                    valid=NON_NEGATIVE,
                    key=1,
                ),
                "test_mse": variable(
                    rep,
                    (residual**2).mean(axis=1),
                    units="y units^2",
                    description="mean squared error on the fixed real test set",
                    valid=NON_NEGATIVE,
                    key=2,
                ),
            }
        )
