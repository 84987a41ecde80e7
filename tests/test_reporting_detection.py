"""The detection summary names the rarest quarter of classes and what happened to them."""

from __future__ import annotations

import numpy as np
import xarray as xr

from collapse_sim.reporting.detection import rare_class_lines, rarest_quarter


def _results() -> xr.Dataset:
    share = np.array(
        [[0.5, 0.25, 0.1, 0.06, 0.04, 0.03, 0.012, 0.008], [0.6, 0.3, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0]]
    )
    ap = np.tile(np.linspace(0.6, 0.2, 8), (2, 1))
    ap[1, 6:] = 0.0
    names = [f"c{i}" for i in range(8)]
    return xr.Dataset(
        {"class_frequency": (("generation", "class"), share), "ap50_95": (("generation", "class"), ap)},
        coords={"generation": [0, 1], "class": names},
    )


def test_rarest_quarter_is_read_from_generation_zero():
    ds = _results()
    assert rarest_quarter(ds) == ["c7", "c6"]
    assert rarest_quarter(ds.isel({"class": slice(0, 3)})) == ["c2"]  # at least one class


def test_summary_lines_give_total_share_and_mean_ap():
    share_line, ap_line = rare_class_lines(_results())
    assert share_line == "rarest quarter (c7, c6): share of training labels (together) 2.00% -> 0.00% (-100%)"
    assert ap_line.startswith("rarest quarter (c7, c6): mean AP50-95 on the real test set 0.229 -> 0.000")
