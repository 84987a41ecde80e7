"""The collapse rate: per-chain slopes and their interval, against hand-made curves and against theory."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import collapse_sim as cs
from collapse_sim.theory import linreg_param_error


def test_slopes_and_generations_to_half_of_hand_made_curves():
    generations = np.arange(5)
    # One halves at generation 3, one never, one at 2.
    curves = np.array([10 - 2.0 * generations, 10 - 0.5 * generations, 10 - 3.0 * generations])
    ds = xr.Dataset(
        {"map50": (("replicate", "generation"), curves, {"units": "1"})},
        coords={"generation": generations, "replicate": [0, 1, 2]},
    )
    rate = cs.collapse_rate(ds, "map50")
    np.testing.assert_allclose(rate.per_generation.values, [-2.0, -0.5, -3.0])
    assert float(rate.per_generation_mean) == pytest.approx(-11 / 6)
    assert float(rate.per_generation_low) < -11 / 6 < float(rate.per_generation_high)
    np.testing.assert_array_equal(rate.generations_to_half.values, [3, np.nan, 2])
    assert rate.attrs["chains"] == 3 and rate.attrs["chains_reaching_half"] == 2
    assert np.isnan(cs.collapse_rate(ds.isel(replicate=[0, 1]), "map50").per_generation_low)  # 2: none
    assert rate.per_generation.attrs["units"] == "1 per generation"
    with pytest.raises(ValueError, match="has dimensions \\['class'\\]"):
        cs.collapse_rate(ds.expand_dims({"class": ["a"]}), "map50")


def test_the_rate_of_linear_regression_under_replace_holds_the_exact_growth_per_generation():
    """E|w - w*|^2 grows by noise^2 d / (n - d - 1) a generation under replace; 400 chains, 95 % interval."""
    ds = cs.run(["+experiment=linreg_accumulate", "mixing=replace", "generations=10", "replicates=400"])
    n, dim, noise = 40, 10, 1.0
    exact = float(np.diff(linreg_param_error(10, n=n, dim=dim, noise=noise, mixing="replace"))[0])
    rate = cs.collapse_rate(ds, "param_error")
    assert float(rate.per_generation_low) <= exact <= float(rate.per_generation_high), rate
    assert rate.attrs["chains"] == 400
