"""Distribution metrics of a fitted Gaussian (mixture) against the real distribution, in closed form."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from collapse_sim.components import Metric, RealData, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.metrics import NON_NEGATIVE, SHARE, measured, variable
from collapse_sim.models.gaussian import GaussianMixtureModel, _matrix_sqrt
from collapse_sim.samples import Samples


def wasserstein2(m1: np.ndarray, c1: np.ndarray, m2: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """W2 distance between N(m1, c1) and N(m2, c2), stacked over the leading axis."""
    shift = ((m1 - m2) ** 2).sum(axis=-1)
    if c1.shape[-1] == 1:
        spread = (np.sqrt(c1[..., 0, 0]) - np.sqrt(c2[..., 0, 0])) ** 2
    else:
        root2 = _matrix_sqrt(c2)
        cross = _matrix_sqrt(root2 @ c1 @ root2)
        spread = np.trace(c1 + c2 - 2 * cross, axis1=-2, axis2=-1)
    return np.sqrt(np.clip(shift + spread, 0.0, None))


class GaussianMetrics(Metric):
    """``variance``, ``mean_shift`` (and its square, whose mean theory gives), ``w2`` and ``tail_mass[k]``
    of the fitted model; ``test_nll`` where the source keeps a real test set (``source.test_size``)."""

    needs = data_of("gaussian")

    def __init__(self, *, tail_sigmas: Sequence[float] = (2, 3, 4)) -> None:
        if not tail_sigmas or any(k <= 0 for k in tail_sigmas):
            raise ConfigError("tail_sigmas", f"must be a non-empty list of numbers > 0, got {tail_sigmas!r}")
        self.tail_sigmas = [float(k) for k in tail_sigmas]

    def measure(self, model: GaussianMixtureModel, data: Samples, real: RealData) -> xr.Dataset:
        """Closed-form comparison of ``model`` with ``real.truth``."""
        truth = real.truth
        mean, cov = model.mean, model.cov
        true_mean, true_cov = truth.mean, truth.cov
        scale = np.sqrt(np.diagonal(true_cov, axis1=-2, axis2=-1))
        tails = model.marginal_tail_mass(true_mean, scale, self.tail_sigmas)
        shift_sq = ((mean - true_mean) ** 2).sum(axis=-1)
        rep = ("replicate",)
        return measured(
            {
                "variance": variable(
                    rep,
                    np.trace(cov, axis1=-2, axis2=-1),
                    units="data units^2",
                    description="trace of the covariance of the fitted model",
                    valid=NON_NEGATIVE,
                    key=1,
                ),
                "mean_shift": variable(
                    rep,
                    np.linalg.norm(mean - true_mean, axis=-1),
                    units="data units",
                    description="distance of the fitted mean from the real mean",
                    valid=NON_NEGATIVE,
                    key=2,
                ),
                "mean_shift_sq": variable(
                    rep,
                    shift_sq,
                    units="data units^2",
                    description="squared error of the fitted mean (its mean over chains is the mean's MSE)",
                    valid=NON_NEGATIVE,
                    key=3,
                ),
                "w2": variable(
                    rep,
                    wasserstein2(mean, cov, true_mean, true_cov),
                    units="data units",
                    description="2-Wasserstein distance to the real distribution (moment-matched Gaussians)",
                    valid=NON_NEGATIVE,
                    key=4,
                ),
                "tail_mass": variable(
                    rep + ("k",),
                    tails,
                    units="1",
                    description="model mass beyond k real sigmas of the real mean, per coordinate",
                    valid=SHARE,
                    key=5,
                ),
            },
            coords={"k": self.tail_sigmas},
        ).merge(self._test_nll(model, real))

    @staticmethod
    def _test_nll(model: GaussianMixtureModel, real: RealData) -> xr.Dataset:
        """The mean negative log-likelihood of the held-out real samples (Kazdan et al.'s KDE measure)."""
        if real.test is None or not len(real.test):
            return xr.Dataset()
        nll = -model.log_density(real.test["x"]).mean(axis=1)
        return measured(
            {
                "test_nll": variable(
                    ("replicate",),
                    nll,
                    units="nats",
                    description="mean negative log-likelihood of the held-out real samples",
                    key=6,
                )
            }
        )
