"""Class-distribution metrics of the generation's training data."""

from __future__ import annotations

import numpy as np
import xarray as xr

from collapse_sim.components import Metric, RealData, data_of
from collapse_sim.metrics import NON_NEGATIVE, SHARE, Figure, measured, variable
from collapse_sim.models.categorical import class_counts
from collapse_sim.samples import Samples


class ClassMetrics(Metric):
    """``class_frequency[class]``, ``surviving_classes``, ``entropy``, ``gini_simpson``, ``missing_mass``."""

    needs = data_of("categorical")
    data_only = True

    def measure(self, model, data: Samples, real: RealData) -> xr.Dataset:
        """Frequencies in the training data compared with the real class law."""
        names = real.truth.class_names
        counts = class_counts(data["label"], len(names))
        freq = counts / counts.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            entropy = -np.where(freq > 0, freq * np.log(freq), 0.0).sum(axis=1)
        rep = ("replicate",)
        return measured(
            {
                "class_frequency": variable(
                    rep + ("class",),
                    freq,
                    units="1",
                    description="share of each class in the training data",
                    valid=SHARE,
                    figure=Figure(
                        "heatmap",
                        title="share of each class in the training data",
                        caption="Each class's share of the training data per generation, log10 colour scale "
                        "({chains}).",
                    ),
                    ranks_classes=True,
                ),
                "surviving_classes": variable(
                    rep,
                    (counts > 0).sum(axis=1).astype(float),
                    units="classes",
                    description="classes present in the training data",
                    valid=NON_NEGATIVE,
                    key=11,
                ),
                "entropy": variable(
                    rep,
                    entropy,
                    units="nats",
                    description="entropy of the training class shares",
                    valid=NON_NEGATIVE,
                    key=13,
                ),
                "gini_simpson": variable(
                    rep,
                    1.0 - (freq**2).sum(axis=1),
                    units="1",
                    description="1 - sum of squared class shares (chance two samples differ)",
                    valid=SHARE,
                    key=12,
                ),
                "missing_mass": variable(
                    rep,
                    (real.truth.probs * (counts == 0)).sum(axis=1),
                    units="1",
                    description="real probability of the classes absent from the training data",
                    valid=SHARE,
                    key=14,
                ),
            },
            coords={"class": np.array(names, dtype=object)},
        )
