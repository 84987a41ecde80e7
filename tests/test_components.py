"""Sources, trainers, generators and mixing policies, each with plain neighbours."""

import numpy as np
import pytest

from collapse_sim.errors import ConfigError
from collapse_sim.generators.refit_sample import RefitSampleGenerator
from collapse_sim.generators.relabel import RelabelGenerator
from collapse_sim.mixing import (
    AccumulateMixing,
    AccumulateSubsampleMixing,
    FractionMixing,
    FreshMixing,
    ReplaceMixing,
)
from collapse_sim.models.linear import LinearModel
from collapse_sim.samples import REAL, Samples
from collapse_sim.sources.gaussian import GaussianSource, GMMSource
from collapse_sim.sources.linreg import LinearRegressionSource
from collapse_sim.sources.zipf import ZipfSource
from collapse_sim.trainers.categorical import CategoricalFitTrainer
from collapse_sim.trainers.gaussian import GaussianFitTrainer, GMMFitTrainer
from collapse_sim.trainers.ols import OLSTrainer


def rng(seed=0):
    return np.random.default_rng(seed)


def test_gaussian_source_shapes_and_moments():
    real = GaussianSource(replicates=3, pool_size=20_000, dim=2, mean=[1.0, -1.0], std=[1.0, 3.0]).load(rng())
    x = real.train["x"]
    assert x.shape == (3, 20_000, 2) and real.test is None
    np.testing.assert_allclose(x.mean(axis=(0, 1)), [1, -1], atol=4 * 3 / np.sqrt(60_000))
    assert (real.train.origin == REAL).all()


def test_sources_are_determined_by_the_seed():
    make = lambda: ZipfSource(replicates=2, pool_size=30).load(rng(5)).train["label"]  # noqa: E731
    np.testing.assert_array_equal(make(), make())


@pytest.mark.parametrize(
    "factory, key",
    [
        (lambda: GaussianSource(replicates=1, pool_size=5, dim=2, std=[1.0]), "std"),
        (lambda: GaussianSource(replicates=1, pool_size=5, std=-1.0), "std"),
        (lambda: GaussianSource(replicates=0, pool_size=5), "replicates"),
        (lambda: GMMSource(replicates=1, pool_size=5, weights=[0.5, 0.6, 0.1]), "weights"),
        (lambda: ZipfSource(replicates=1, pool_size=5, n_classes=1), "n_classes"),
        (lambda: ZipfSource(replicates=1, pool_size=5, exponent=-1.0), "exponent"),
        (lambda: LinearRegressionSource(replicates=1, pool_size=5, dim=10), "pool_size"),
        (lambda: LinearRegressionSource(replicates=1, pool_size=50, noise=0.0), "noise"),
    ],
)
def test_source_range_errors_name_the_key(factory, key):
    with pytest.raises(ConfigError) as info:
        factory()
    assert info.value.key == key


def test_gaussian_fit_ddof():
    x = np.array([[[1.0], [3.0]]])
    data = Samples.real(x=x)
    assert GaussianFitTrainer(ddof=0).fit(data).cov[0, 0, 0] == 1.0
    assert GaussianFitTrainer(ddof=1).fit(data).cov[0, 0, 0] == 2.0
    with pytest.raises(ConfigError, match="0 \\(maximum likelihood\\) or 1"):
        GaussianFitTrainer(ddof=2)


def test_gmm_fit_recovers_separated_components():
    source = GMMSource(replicates=2, pool_size=3000, dim=2, n_components=2, separation=10.0)
    real = source.load(rng())
    model = GMMFitTrainer(n_components=2).fit(real.train, rng=rng(1))
    means = np.sort(model.means[:, :, 0], axis=1)
    np.testing.assert_allclose(means, [[-5, 5], [-5, 5]], atol=0.2)
    warm = GMMFitTrainer(n_components=2).fit(real.train, init=model, rng=rng(2))
    np.testing.assert_allclose(np.sort(warm.means[:, :, 0], axis=1), means, atol=0.05)


def test_categorical_fit_is_the_frequency_table():
    labels = np.array([[0, 0, 1, 2], [2, 2, 2, 2]])
    model = CategoricalFitTrainer(n_classes=3).fit(Samples.real(label=labels))
    np.testing.assert_allclose(model.probs, [[0.5, 0.25, 0.25], [0, 0, 1]])


def test_ols_recovers_noise_free_weights():
    x = rng().standard_normal((2, 30, 4))
    w = np.array([[1.0, -2.0, 0.5, 0.0], [0.0, 1.0, 1.0, 1.0]])
    y = np.einsum("rnd,rd->rn", x, w)
    model = OLSTrainer().fit(Samples.real(x=x, y=y))
    np.testing.assert_allclose(model.weights, w, atol=1e-10)


def test_refit_sample_marks_provenance_and_size():
    model = CategoricalFitTrainer(n_classes=4).fit(Samples.real(label=np.array([[0, 1, 1, 3]])))
    out = RefitSampleGenerator(n=7, top_k=2).generate(model, None, 3, rng())
    assert out["label"].shape == (1, 7) and (out.origin == 3).all()
    assert set(np.unique(out["label"])) <= {1, 0, 3} and 1 in out["label"]


@pytest.mark.parametrize(
    "kwargs, key",
    [({"temperature": 0.0}, "temperature"), ({"top_p": 1.5}, "top_p"), ({"top_k": 0}, "top_k")],
)
def test_refit_sample_rejects_bad_options(kwargs, key):
    with pytest.raises(ConfigError) as info:
        RefitSampleGenerator(n=5, **kwargs)
    assert info.value.key == key


def test_relabel_reuses_the_first_inputs_with_fresh_noise():
    x = rng().standard_normal((2, 10, 3))
    data = Samples.real(x=x, y=np.zeros((2, 10)))
    model = LinearModel(np.ones((2, 3)), 1.0)
    out = RelabelGenerator(n=6, noise=0.0).generate(model, data, 0, rng())
    np.testing.assert_array_equal(out["x"], x[:, :6])
    np.testing.assert_allclose(out["y"], x[:, :6].sum(axis=2))


def _world(n=10, r=2):
    source = ZipfSource(replicates=r, pool_size=n, n_classes=5)
    return source.load(rng())


def _synthetic(g, n=10, r=2):
    return Samples.made_by(g, label=np.full((r, n), g % 5))


def test_replace_and_accumulate():
    real = _world()
    history = [_synthetic(0), _synthetic(1)]
    assert ReplaceMixing().mix(real, history[-1], history, rng()) is history[-1]
    acc = AccumulateMixing().mix(real, history[-1], history, rng())
    assert len(acc) == 30 and (acc.origin[:, :10] == REAL).all() and (acc.origin[:, 20:] == 1).all()
    sub = AccumulateSubsampleMixing(n=10).mix(real, history[-1], history, rng())
    assert len(sub) == 10


def test_accumulate_subsample_is_uniform_over_the_pool():
    real = _world(n=10, r=3000)
    history = [_synthetic(0, r=3000), _synthetic(1, r=3000)]
    sub = AccumulateSubsampleMixing(n=10).mix(real, history[-1], history, rng())
    share = sub.real_share()
    assert abs(share - 1 / 3) < 4 * np.sqrt((1 / 3) * (2 / 3) * (20 / 29) / (10 * 3000))


@pytest.mark.parametrize("policy", [FractionMixing, FreshMixing])
def test_real_fraction_policies(policy):
    real = _world()
    mixed = policy(n=10, real_fraction=0.3).mix(real, _synthetic(4), [_synthetic(4)], rng())
    assert len(mixed) == 10 and mixed.real_share() == 0.3
    assert (mixed.origin[:, 3:] == 4).all()


def test_fresh_draws_new_real_samples_fraction_reuses_the_pool():
    source = GaussianSource(replicates=1, pool_size=5)
    real = source.load(rng())
    synthetic = Samples.made_by(0, x=np.zeros((1, 5, 1)))
    fraction = FractionMixing(n=5, real_fraction=1.0).mix(real, synthetic, [synthetic], rng(1))
    fresh = FreshMixing(n=5, real_fraction=1.0).mix(real, synthetic, [synthetic], rng(1))
    assert set(fraction["x"].ravel()) == set(real.train["x"].ravel())
    assert not set(fresh["x"].ravel()) & set(real.train["x"].ravel())


def test_real_fraction_out_of_range():
    with pytest.raises(ConfigError, match=r"must be in \[0, 1\], got 1.5"):
        FractionMixing(n=10, real_fraction=1.5)
