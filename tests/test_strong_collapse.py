"""Strong model collapse (Dohmatob et al. 2025): a fixed wrong model's labels leave least squares a floor."""

from __future__ import annotations

import numpy as np
import pytest
from test_theory import Z

import collapse_sim as cs
from collapse_sim import theory
from collapse_sim.trainers.ols import OLSTrainer


@pytest.mark.parametrize(
    ("n", "dim", "synthetic", "distance"), [(40, 10, 8, 1.0), (15, 3, 6, 1.5), (200, 5, 100, 2.0)]
)
def test_the_exact_error_is_the_mean_of_least_squares_on_a_mix(n, dim, synthetic, distance):
    """Least squares simulated apart from the package: n Gaussian inputs, ``synthetic`` of them labelled
    by w* + delta, the rest by w*, noise 1; the mean squared weight error is the closed form's."""
    rng = np.random.default_rng(8)
    chains = 20000
    truth = rng.normal(size=(chains, dim)) / np.sqrt(dim)
    shift = np.zeros(dim)
    shift[0] = distance
    x = rng.normal(size=(chains, n, dim))
    weights = np.repeat(truth[:, None], n, axis=1)
    weights[:, n - synthetic :] += shift
    y = (x * weights).sum(-1) + rng.normal(size=(chains, n))
    fitted = np.linalg.solve(x.transpose(0, 2, 1) @ x, (x.transpose(0, 2, 1) @ y[..., None]))[..., 0]
    error = ((fitted - truth) ** 2).sum(-1)
    exact = theory.strong_collapse_error(n, dim=dim, noise=1.0, synthetic=synthetic, distance=distance)
    assert abs(error.mean() - exact) < Z * error.std(ddof=1) / np.sqrt(chains), (error.mean(), exact)


def test_the_floor_stays_however_many_samples():
    for share in (0.001, 0.01, 0.1):
        error = [
            theory.strong_collapse_error(n, dim=10, noise=1.0, synthetic=round(share * n), distance=1.0)
            for n in (10**4, 10**6, 10**8)
        ]
        # p^2 ||delta||^2, plus (noise^2 d + p (1 - p)(d + 1) ||delta||^2) / n, which vanishes
        limit = share**2 + (10 + share * (1 - share) * 11) / 1e8
        assert error[0] > error[1] > error[2] == pytest.approx(limit)


def test_the_experiment_s_runs_follow_the_closed_form_drawn_beside_them():
    args = ["+experiment=strong_collapse", "n_samples=60", "mixing.real_fraction=0.75", "replicates=1500"]
    ds = cs.run([*args, "generations=3", "seed=2"])
    curves = OLSTrainer.expected_curves(ds.attrs["config"])
    exact = theory.strong_collapse_error(60, dim=10, noise=1.0, synthetic=15, distance=1.0)
    np.testing.assert_allclose(curves["param_error"], [10 / 49, exact, exact])  # gen 0: real data alone
    for g in range(3):
        values = ds.param_error.isel(generation=g).values
        assert abs(values.mean() - curves["param_error"][g]) < Z * values.std(ddof=1) / np.sqrt(
            values.size
        ), g
