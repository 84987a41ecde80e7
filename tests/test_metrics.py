import dataclasses

import numpy as np
import pytest
from scipy import stats

from collapse_sim.components import RealData
from collapse_sim.metrics.bookkeeping import bookkeeping
from collapse_sim.metrics.classes import ClassMetrics
from collapse_sim.metrics.gaussian import GaussianMetrics, wasserstein2
from collapse_sim.metrics.regression import RegressionMetrics
from collapse_sim.models.gaussian import GaussianMixtureModel
from collapse_sim.models.linear import LinearModel
from collapse_sim.samples import Samples
from collapse_sim.sources.gaussian import GaussianSource
from collapse_sim.sources.zipf import ZipfSource


def test_w2_closed_forms():
    # 1-D: W2^2 = (m1 - m2)^2 + (s1 - s2)^2.
    w = wasserstein2(np.array([[1.0]]), np.array([[[4.0]]]), np.array([[0.0]]), np.array([[[1.0]]]))
    np.testing.assert_allclose(w, [np.sqrt(1 + 1)])
    # Commuting covariances: sum over eigen-directions of (sqrt(a) - sqrt(b))^2.
    c1, c2 = np.diag([4.0, 9.0])[None], np.diag([1.0, 1.0])[None]
    w = wasserstein2(np.zeros((1, 2)), c1, np.zeros((1, 2)), c2)
    np.testing.assert_allclose(w, [np.sqrt(1 + 4)])


def test_gaussian_metrics_of_the_truth_itself():
    source = GaussianSource(replicates=2, pool_size=3, dim=2, std=[1.0, 2.0])
    real = source.load(np.random.default_rng(0))
    ds = GaussianMetrics().measure(source.truth, real.train, real)
    np.testing.assert_allclose(ds.variance, [5, 5])
    np.testing.assert_allclose(ds.w2, [0, 0], atol=1e-7)
    np.testing.assert_allclose(ds.tail_mass.sel(k=2), 2 * stats.norm.sf(2))
    assert ds.tail_mass.attrs["units"] == "1" and "description" in ds.variance.attrs


@pytest.mark.parametrize("bandwidth", ["scott", 0.05])
def test_test_nll_of_a_kde_is_scipys_held_out_log_likelihood(bandwidth):
    from collapse_sim.trainers.kde import KDEFitTrainer

    source = GaussianSource(replicates=3, pool_size=40, test_size=500)
    real = source.load(np.random.default_rng(1))
    model = KDEFitTrainer(bandwidth=bandwidth).fit(real.train)
    ds = GaussianMetrics().measure(model, real.train, real)
    x, test = real.train["x"][2, :, 0], real.test["x"][2, :, 0]
    kde = stats.gaussian_kde(
        x, bw_method=bandwidth if isinstance(bandwidth, str) else bandwidth / x.std(ddof=1)
    )
    np.testing.assert_allclose(ds.test_nll.values[2], -np.mean(kde.logpdf(test)), rtol=1e-9)
    assert ds.test_nll.attrs["units"] == "nats"
    # The truth's own held-out NLL is the entropy of N(0, 1), 1.419 nats, within sampling error.
    truth_nll = GaussianMetrics().measure(source.truth, real.train, real).test_nll.values
    assert np.all(np.abs(truth_nll - 0.5 * np.log(2 * np.pi * np.e)) < 4 * np.sqrt(0.5 / 500))
    without_test = dataclasses.replace(real, test=None)  # no held-out set: nothing to score
    assert "test_nll" not in GaussianMetrics().measure(model, real.train, without_test)


def test_gaussian_metrics_of_a_shrunken_model():
    source = GaussianSource(replicates=1, pool_size=3)
    real = source.load(np.random.default_rng(0))
    model = GaussianMixtureModel.single(np.array([[0.5]]), np.array([[[0.25]]]))
    ds = GaussianMetrics(tail_sigmas=[1]).measure(model, real.train, real)
    assert float(ds.mean_shift.item()) == 0.5 and float(ds.variance.item()) == 0.25
    expected = stats.norm.cdf((-1 - 0.5) / 0.5) + stats.norm.sf((1 - 0.5) / 0.5)
    np.testing.assert_allclose(float(ds.tail_mass.item()), expected)


def test_class_metrics():
    source = ZipfSource(replicates=1, pool_size=4, n_classes=4, exponent=0.0)
    real = source.load(np.random.default_rng(0))
    data = Samples.real(label=np.array([[0, 0, 1, 1]]))
    ds = ClassMetrics().measure(None, data, real)
    np.testing.assert_allclose(ds.class_frequency, [[0.5, 0.5, 0, 0]])
    assert list(ds["class"].values) == ["class_00", "class_01", "class_02", "class_03"]
    assert float(ds.surviving_classes.item()) == 2
    np.testing.assert_allclose(float(ds.entropy.item()), np.log(2))
    np.testing.assert_allclose(float(ds.gini_simpson.item()), 0.5)
    np.testing.assert_allclose(float(ds.missing_mass.item()), 0.5)


def test_regression_metrics():
    truth = LinearModel(np.array([[1.0, 0.0]]), 0.0)
    x = np.array([[[1.0, 1.0], [2.0, 0.0]]])
    test = Samples.real(x=x, y=truth.predict(x))
    real = RealData(test, test, truth, None)
    ds = RegressionMetrics().measure(LinearModel(np.array([[1.0, 1.0]]), 0.0), test, real)
    assert float(ds.param_error.item()) == 1.0
    assert float(ds.test_mse.item()) == pytest.approx(0.5)


def test_bookkeeping_gives_each_vectorised_chain_its_own_real_share():
    real = Samples.real(x=np.zeros((2, 3, 1)))
    made = Samples.made_by(0, x=np.zeros((2, 1, 1)))
    data = Samples.concat([real, made]).take(np.array([[0, 1, 2, 1], [0, 3, 3, 3]]))  # chain 1: 1 of 4 real
    ds = bookkeeping(data, 0.5)
    assert ds.train_size.values.tolist() == [4.0, 4.0] and ds.real_fraction.values.tolist() == [1.0, 0.25]
    assert ds.real_fraction.dims == ("replicate",) and float(ds.wall_time_s.item()) == 0.5
