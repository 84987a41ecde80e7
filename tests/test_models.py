import numpy as np
from scipy import stats

from collapse_sim.draws import shape_probabilities
from collapse_sim.models.categorical import CategoricalModel, class_counts
from collapse_sim.models.gaussian import GaussianMixtureModel

RNG = np.random.default_rng(12)


def test_temperature_sharpens_and_flattens():
    p = np.array([[0.6, 0.3, 0.1]])
    cold = shape_probabilities(p, temperature=0.5)
    np.testing.assert_allclose(cold, p**2 / (p**2).sum())
    hot = shape_probabilities(p, temperature=1e6)
    np.testing.assert_allclose(hot, np.full((1, 3), 1 / 3), atol=1e-5)


def test_top_k_and_top_p_truncate_the_tail():
    p = np.array([[0.5, 0.25, 0.15, 0.1]])
    np.testing.assert_allclose(shape_probabilities(p, top_k=2), [[2 / 3, 1 / 3, 0, 0]])
    # 0.5 + 0.25 = 0.75 < 0.8, so the nucleus needs the third class too.
    np.testing.assert_allclose(shape_probabilities(p, top_p=0.8), [[0.5, 0.25, 0.15, 0]] / np.float64(0.9))
    np.testing.assert_allclose(shape_probabilities(p, top_p=0.1), [[1, 0, 0, 0]])


def test_categorical_sampling_has_exact_counts_distribution():
    probs = np.tile([0.7, 0.2, 0.1, 0.0], (4000, 1))
    labels = CategoricalModel(probs, ("a", "b", "c", "d")).sample(50, RNG)
    counts = class_counts(labels, 4)
    assert counts.sum(axis=1).tolist() == [50] * 4000 and counts[:, 3].sum() == 0
    mean = counts.mean(axis=0)
    se = counts.std(axis=0) / np.sqrt(4000)
    assert np.all(np.abs(mean[:3] - 50 * probs[0, :3]) < 4 * se[:3])


def test_gaussian_temperature_scales_covariance():
    cov = np.tile(np.diag([1.0, 4.0]), (1, 1, 1))
    model = GaussianMixtureModel.single(np.zeros((1, 2)), cov)
    x = model.sample(200_000, RNG, temperature=0.5)[0]
    var = x.var(axis=0)
    # Var of a sample variance of a normal: 2 sigma^4 / n.
    se = np.sqrt(2 / 200_000) * np.array([0.5, 2.0])
    assert np.all(np.abs(var - [0.5, 2.0]) < 4 * se)


def test_gaussian_top_p_keeps_the_central_mass():
    model = GaussianMixtureModel.single(np.zeros((1, 2)), np.eye(2)[None])
    x = model.sample(20_000, RNG, top_p=0.9)[0]
    radius2 = (x**2).sum(axis=1)
    assert radius2.max() <= stats.chi2.ppf(0.9, 2) + 1e-9
    # Inside the cut the shape is unchanged: P(r^2 < q50 | r^2 < q90) = 0.5 / 0.9.
    share = np.mean(radius2 < stats.chi2.ppf(0.5, 2))
    assert abs(share - 0.5 / 0.9) < 4 * np.sqrt(share * (1 - share) / 20_000)


def test_mixture_moments_and_tail_mass():
    model = GaussianMixtureModel(
        np.array([[0.25, 0.75]]), np.array([[[-2.0], [2.0]]]), np.array([[[[1.0]], [[1.0]]]])
    )
    np.testing.assert_allclose(model.mean, [[1.0]])
    np.testing.assert_allclose(model.cov, [[[1 + 4 - 1]]])
    # Both tails of N(-2,1) and N(2,1) beyond |x| > 3.
    expected = stats.norm.sf(1) + stats.norm.sf(5)
    np.testing.assert_allclose(model.marginal_tail_mass(np.zeros((1, 1)), np.ones((1, 1)), [3]), [[expected]])
    x = model.sample(100_000, RNG)[0, :, 0]
    p_negative = 0.25 * stats.norm.cdf(2) + 0.75 * stats.norm.cdf(-2)
    assert abs(np.mean(x < 0) - p_negative) < 4 * np.sqrt(p_negative * (1 - p_negative) / 100_000)


def test_a_shared_kernel_takes_the_fast_path_and_gives_the_same_density(monkeypatch):
    """A KDE's components share one covariance per replicate: whitening once per replicate gives the
    per-component path's values to 1e-12, and scipy's for one replicate."""
    from collapse_sim.trainers.kde import KDEFitTrainer

    rng = np.random.default_rng(4)
    for d in (1, 2, 3):
        a = rng.normal(size=(3, d, d))
        kernel = a @ a.transpose(0, 2, 1) + 0.2 * np.eye(d)
        model = GaussianMixtureModel(
            rng.dirichlet(np.ones(40), size=3),
            rng.normal(size=(3, 40, d)),
            np.repeat(kernel[:, None], 40, axis=1),
        )
        x = 4 * rng.normal(size=(3, 300, d))  # far points too: the log-sum-exp's tail
        shared = model.log_density(x)
        np.testing.assert_allclose(shared, model._per_component_log_density(x), rtol=1e-12, atol=1e-12)
        components = [stats.multivariate_normal(m, kernel[0]) for m in model.means[0]]
        scipy = np.log(sum(w * c.pdf(x[0]) for w, c in zip(model.weights[0], components, strict=True)))
        np.testing.assert_allclose(shared[0], scipy, rtol=1e-9)
    kde = KDEFitTrainer(bandwidth="scott").fit(_points(rng))
    calls = []  # the KDE never needs the general path
    monkeypatch.setattr(GaussianMixtureModel, "_per_component_log_density", lambda self, x: calls.append(x))
    assert kde.log_density(rng.normal(size=(2, 5, 2))).shape == (2, 5) and not calls


def _points(rng):
    from collapse_sim.samples import Samples

    return Samples({"x": rng.normal(size=(2, 30, 2))}, np.zeros((2, 30), dtype=np.int32))
