"""Iterative retraining on the real pool and the model's own samples (Bertrand et al. 2024): the exact
moments, their rate, and runs that follow both."""

import numpy as np
import pytest
from conftest import build_job

import collapse_sim as cs
from collapse_sim.errors import ConfigError
from collapse_sim.theory import retraining_expected, retraining_rate

Z = 4.0  # a tolerance of four Monte-Carlo standard errors, fixed seeds


@pytest.mark.parametrize(("lam", "ddof"), [(0.5, 0), (2.0, 1), (4.0, 0)])
def test_the_exact_moments_match_a_plain_monte_carlo_of_the_procedure(lam, ddof):
    """The recurrence against the procedure written out with NumPy alone: fit the pool, then fit the pool
    and M samples of the last fit, generation after generation."""
    rng = np.random.default_rng(1)
    chains, n, generations = 100_000, 10, 6
    m = round(lam * n)
    pool = rng.normal(size=(chains, n))
    mean, var = pool.mean(1), pool.var(1, ddof=ddof)
    shift, variance = [], []
    for _ in range(generations):
        shift.append(mean**2)
        variance.append(var)
        drawn = rng.normal(mean[:, None], np.sqrt(var)[:, None], (chains, m))
        both = np.concatenate([pool, drawn], 1)
        mean, var = both.mean(1), both.var(1, ddof=ddof)
    exact = retraining_expected(generations, pool=n, synthetic=m, trace_sigma=1.0, ddof=ddof)
    for name, values in (("mean_shift_sq", np.array(shift)), ("variance", np.array(variance))):
        error = values.std(1) / np.sqrt(chains)
        assert np.all(np.abs(values.mean(1) - exact[name]) < Z * error), name


def test_maximum_likelihood_approaches_its_fixed_point_at_lambda_over_one_plus_lambda():
    for n, lam in ((20, 0.5), (20, 1.0), (10, 4.0), (100, 0.1)):
        m = round(lam * n)
        assert retraining_rate(pool=n, synthetic=m) == pytest.approx(m / (n + m), rel=1e-12)
    # Unbiased refits are slower by about 1/(N + M): the same rate to first order.
    assert retraining_rate(pool=20, synthetic=40, ddof=1) == pytest.approx(40 / 60, abs=0.03)


@pytest.mark.parametrize("lam", [0.5, 2.0, 4.0])
def test_runs_move_away_from_the_real_fit_along_the_exact_curve_at_the_derived_rate(lam):
    """Each chain's distance from its own generation-0 fit (the real pool's) grows to a fixed point: the
    mean over chains follows the exact curve at every generation, and its second step over its first is
    the rate of the exact curve (about ρ² = (λ/(1+λ))²)."""
    overrides = [f"mixing.synthetic_per_real={lam}", "replicates=40000", "generations=6"]
    ds = cs.run(["+experiment=iterative_retraining", *overrides])
    shift = ds.mean_shift_sq.values  # (generation, chain)
    grown = shift - shift[0]  # e_t² + 2 e_t mean(pool): the pool's own spread cancels, chain by chain
    exact = retraining_expected(ds.sizes["generation"], pool=20, synthetic=round(20 * lam), trace_sigma=1.0)
    expected = exact["mean_shift_sq"] - exact["mean_shift_sq"][0]
    error = grown.std(1) / np.sqrt(grown.shape[1])
    assert np.all(np.abs(grown.mean(1) - expected) <= Z * error + 1e-15)
    first, second = grown[1] - grown[0], grown[2] - grown[1]
    ratio = second.mean() / first.mean()
    ratio_error = (second - ratio * first).std() / np.sqrt(first.size) / first.mean()  # the delta method
    assert abs(ratio - (expected[2] - expected[1]) / expected[1]) < Z * ratio_error
    assert abs(ratio - (lam / (1 + lam)) ** 2) < Z * ratio_error + 0.02  # S_t drifts by O(1/N)


def test_a_generator_that_draws_too_few_samples_for_lambda_is_refused_at_build():
    with pytest.raises(ConfigError, match=r"generator.n: is 30 but mixing=retrain keeps 80 synthetic"):
        build_job(["+experiment=iterative_retraining", "mixing.synthetic_per_real=4", "generator.n=30"])
    with pytest.raises(ConfigError, match="synthetic_per_real: must be a number > 0"):
        build_job(["+experiment=iterative_retraining", "mixing.synthetic_per_real=0"])
