"""What every run records: how much data, how much of it real, how long it took."""

from __future__ import annotations

import numpy as np
import xarray as xr

from collapse_sim.metrics import NON_NEGATIVE, SHARE, measured, variable
from collapse_sim.samples import REAL, Samples


def bookkeeping(data: Samples, wall_time_s: float) -> xr.Dataset:
    """Training-set size, the real share actually trained on, and the generation's wall time.

    Replicates drawn as one vectorised set (``Samples``) get a value each: a mixing policy may give each
    chain its own real share.
    """
    vectorised = isinstance(data, Samples)
    dims = ("replicate",) if vectorised else ()
    size = np.full(data.replicates, float(len(data))) if vectorised else float(len(data))
    share = (data.origin == REAL).mean(axis=1) if vectorised else data.real_share()
    return measured(
        {
            "train_size": variable(
                dims,
                size,
                units="samples",
                description="training samples per replicate",
                valid=NON_NEGATIVE,
                key=91,
            ),
            "real_fraction": variable(
                dims,
                share,
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
