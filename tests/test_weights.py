"""Sample weights: every fitter that declares them fits weighted data correctly, equal weights change
nothing, and ``mixing=weighted`` follows its closed form (He, Xu & Cheng 2025)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import GAUSSIAN, refused_in_process
from families import classes, families, overrides
from test_theory import Z, assert_mean_matches

from collapse_sim import theory
from collapse_sim.api import run as api_run
from collapse_sim.samples import Samples
from collapse_sim.trainers.categorical import CategoricalFitTrainer
from collapse_sim.trainers.gaussian import GaussianFitTrainer
from collapse_sim.trainers.kde import KDEFitTrainer
from collapse_sim.trainers.ols import OLSTrainer

WEIGHTED = {
    name: family
    for name, family in families().items()
    if "sample weights" in classes("trainer", family["trainer"])[0].provides
}


def test_every_weighted_toy_trainer_is_covered():
    assert set(WEIGHTED) >= {"gaussian_fit", "categorical_fit", "ols", "kde_fit"}


@pytest.mark.parametrize("name", sorted(WEIGHTED))
def test_equal_weights_reproduce_the_unweighted_store_exactly(name):
    """``mixing=weighted`` with ``real_weight = real_fraction`` gives every sample the same weight: the
    store is ``mixing=fresh``'s, value for value."""
    common = [*overrides(WEIGHTED[name]), "generations=4", "n_samples=40", "replicates=3", "seed=3"]
    fresh = api_run([*common, "mixing=fresh", "mixing.real_fraction=0.25"])
    weighted = api_run([*common, "mixing=weighted", "mixing.real_fraction=0.25", "mixing.real_weight=0.25"])
    assert set(fresh.data_vars) == set(weighted.data_vars)
    for variable in fresh.data_vars:
        if variable != "wall_time_s":
            np.testing.assert_array_equal(fresh[variable].values, weighted[variable].values, err_msg=variable)


def _repeated(fields: dict, counts: np.ndarray) -> tuple[Samples, Samples]:
    """The same data twice: with integer weights, and with each sample repeated that many times."""
    origin = np.full(counts.shape, -1, dtype=np.int32)
    weighted = Samples(fields, origin, counts.astype(float) * 0.37)  # the scale of weights is irrelevant
    repeat = np.repeat(np.arange(counts.shape[1]), counts[0])
    return weighted, Samples({k: v[:, repeat] for k, v in fields.items()}, origin[:, repeat])


COUNTS = np.array([[1, 3, 2, 1, 4, 1, 2, 5, 1, 3, 2, 2]])


def test_weighted_gaussian_fit_is_the_fit_of_repeated_samples():
    x = np.random.default_rng(0).normal(size=(1, COUNTS.shape[1], 2))
    weighted, repeated = _repeated({"x": x}, COUNTS)
    a, b = GaussianFitTrainer(ddof=0).fit(weighted), GaussianFitTrainer(ddof=0).fit(repeated)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-12)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-12)
    # ddof=1 treats them as reliability weights (numpy's aweights), not as repeat counts.
    unbiased = GaussianFitTrainer(ddof=1).fit(weighted).cov[0]
    np.testing.assert_allclose(unbiased, np.cov(x[0].T, aweights=COUNTS[0]), rtol=1e-12)


def test_weighted_categorical_and_ols_fits_are_the_fits_of_repeated_samples():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, size=COUNTS.shape)
    weighted, repeated = _repeated({"label": labels}, COUNTS)
    trainer = CategoricalFitTrainer(n_classes=4)
    np.testing.assert_allclose(trainer.fit(weighted).probs, trainer.fit(repeated).probs, rtol=1e-12)
    x = rng.normal(size=(1, COUNTS.shape[1], 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=COUNTS.shape)
    weighted, repeated = _repeated({"x": x, "y": y}, COUNTS)
    np.testing.assert_allclose(OLSTrainer().fit(weighted).weights, OLSTrainer().fit(repeated).weights)


@pytest.mark.parametrize("bandwidth", ["scott", "silverman", 0.3])
def test_weighted_kde_is_scipys_weighted_kde(bandwidth):
    from scipy.stats import gaussian_kde

    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 30, 2))
    w = rng.uniform(0.2, 3.0, size=(1, 30))
    model = KDEFitTrainer(bandwidth=bandwidth).fit(Samples({"x": x}, np.full((1, 30), -1), w))
    np.testing.assert_allclose(model.weights[0], w[0] / w[0].sum(), rtol=1e-12)
    if not isinstance(bandwidth, str):
        np.testing.assert_allclose(model.covs[0], np.broadcast_to(np.eye(2) * 0.09, (30, 2, 2)))
        return
    reference = gaussian_kde(x[0].T, bw_method=bandwidth, weights=w[0])
    kernel = model.covs[0, 0]
    np.testing.assert_allclose(kernel, reference.covariance, rtol=1e-10)
    points = rng.normal(size=(5, 2))
    offsets = points[:, None, :] - model.means[0][None]  # (5, 30, 2)
    exponent = -0.5 * np.einsum("pni,ij,pnj->pn", offsets, np.linalg.inv(kernel), offsets)
    density = np.exp(exponent) @ model.weights[0] / np.sqrt(np.linalg.det(2 * np.pi * kernel))
    np.testing.assert_allclose(density, reference(points.T), rtol=1e-10)


def test_a_trainer_without_sample_weights_is_refused_with_the_ones_that_have_them(monkeypatch, capsys):
    said = refused_in_process(
        ["source=gmm", "trainer=gmm_fit", "generator=refit_sample", "metrics=gaussian", "mixing=weighted"],
        monkeypatch,
        capsys,
    )
    assert "mixing=weighted needs sample weights" in said and "trainer=gmm_fit" in said
    assert "gaussian_fit" in said and "kde_fit" in said


@pytest.mark.parametrize(
    "settings, key",
    [(["mixing.real_weight=1.2"], "mixing.real_weight"), (["mixing.real_fraction=0"], "mixing.real_weight")],
)
def test_weights_no_part_can_carry_are_refused(settings, key, monkeypatch, capsys):
    said = refused_in_process([*GAUSSIAN, "mixing=weighted", *settings], monkeypatch, capsys)
    assert said.startswith(f"collapse_sim: error: {key}")


def _stationary_mean_error(ds, tail: int) -> np.ndarray:
    """Each chain's mean of ``mean_shift^2`` over the last ``tail`` generations (one value a chain)."""
    return ds.mean_shift_sq.isel(generation=slice(-tail, None)).mean("generation").values


@pytest.mark.parametrize("weight", [0.3, 0.618, 0.9])
def test_weighted_gaussian_mean_error_follows_its_closed_form(weight):
    n_real, n, generations = 8, 16, 12
    ds = api_run(
        [
            *GAUSSIAN,
            "mixing=weighted",
            f"mixing.real_fraction={n_real / n}",
            f"mixing.real_weight={weight}",
            f"n_samples={n}",
            f"generations={generations}",
            "replicates=6000",
            "source.dim=2",
            "source.std=[1.0,1.5]",
            "seed=5",
        ]
    )
    expected = theory.gaussian_expected(generations, n=n, trace_sigma=3.25, n_real=n_real, real_weight=weight)
    assert_mean_matches(ds.mean_shift_sq.values, expected["mean_shift_sq"], "mean_shift^2")
    assert_mean_matches(ds.variance.values, expected["variance"], "variance")
    curves = theory.expected_curves(ds.attrs["config"])  # what the plots draw beside the run
    np.testing.assert_allclose(curves["mean_shift_sq"], expected["mean_shift_sq"])


def test_the_error_is_least_near_the_golden_ratio_weight():
    """Equal real and synthetic sizes: the closed form's optimum is 1/phi within 0.003 (0.616 with the
    variance refitted too), and the simulated error there is below that at 0.4 and at 0.85 by more than
    the Monte-Carlo error of the differences."""
    golden = (np.sqrt(5) - 1) / 2
    assert theory.known_variance_optimum(50, 50) == pytest.approx(golden, abs=1e-12)
    assert theory.weighted_gaussian_optimum(50, 50) == pytest.approx(golden, abs=0.003)
    # Unequal sizes separate the ratio's two readings: k = n_real / n_synthetic, not its inverse.
    assert theory.weighted_gaussian_optimum(20, 80) == pytest.approx(
        theory.known_variance_optimum(20, 80), abs=0.005
    )
    errors = {}
    for weight in (0.4, golden, 0.85):
        ds = api_run(
            [
                *GAUSSIAN,
                "mixing=weighted",
                "mixing.real_fraction=0.5",
                f"mixing.real_weight={weight}",
                "n_samples=100",
                "generations=20",
                "replicates=4000",
                "seed=9",
            ]
        )
        per_chain = _stationary_mean_error(ds, tail=10)
        stationary = theory.weighted_gaussian_stationary(weight, n_real=50, n_synthetic=50)
        se = per_chain.std(ddof=1) / np.sqrt(per_chain.size)
        assert abs(per_chain.mean() - stationary) < Z * se, (weight, per_chain.mean(), stationary)
        errors[weight] = (per_chain.mean(), se)
    best, best_se = errors[golden]
    for weight in (0.4, 0.85):
        mean, se = errors[weight]
        assert mean - best > 1.96 * np.hypot(se, best_se), (weight, mean, best)
