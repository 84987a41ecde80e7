"""What every run records: how much data, how much of it real, how long it took."""

from __future__ import annotations

import xarray as xr

from collapse_sim.metrics import NON_NEGATIVE, SHARE, measured, variable
from collapse_sim.samples import Samples


def bookkeeping(data: Samples, wall_time_s: float) -> xr.Dataset:
    """Training-set size, the real share actually trained on, and the generation's wall time."""
    return measured(
        {
            "train_size": variable(
                (),
                float(len(data)),
                units="samples",
                description="training samples per replicate",
                valid=NON_NEGATIVE,
                key=91,
            ),
            "real_fraction": variable(
                (),
                data.real_share(),
                units="1",
                description="share of real samples in the training data",
                valid=SHARE,
                key=90,
            ),
            "wall_time_s": variable(
                (),
                wall_time_s,
                units="s",
                description="wall time to train, measure and generate",
                valid=NON_NEGATIVE,
            ),
        }
    )
