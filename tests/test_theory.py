"""Simulated curves against the closed forms of collapse_sim.theory.

Every check compares a replicate mean with its expectation, within Z standard
errors of the Monte-Carlo mean (seeded, so each test is deterministic).
Parameter points differ from the shipped experiments on purpose.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import GAUSSIAN, build_job

from collapse_sim import theory
from collapse_sim.api import run as api_run
from collapse_sim.errors import ConfigError
from collapse_sim.mixing import FreshMixing
from collapse_sim.sources.gaussian import GaussianSource
from collapse_sim.theory import expected_curves


def run(overrides: list[str]):
    """A toy run: the Gaussian family unless the overrides (or an experiment) pick another."""
    if any(o.lstrip("+").startswith("experiment=") for o in overrides):
        return api_run(overrides)
    given = {o.split("=")[0] for o in overrides}
    return api_run([o for o in GAUSSIAN if o.split("=")[0] not in given] + overrides)


Z = 4.0  # standard errors; with a fixed seed a pass is reproducible


def assert_mean_matches(samples, expected, label):
    """``samples (generation, replicate)`` whose replicate mean should equal ``expected``."""
    samples = np.asarray(samples)
    mean = samples.mean(axis=1)
    se = samples.std(axis=1, ddof=1) / np.sqrt(samples.shape[1])
    z = np.abs(mean - expected) / se
    assert np.all(z < Z), f"{label}: worst |z| = {z.max():.2f} at generation {int(z.argmax())}"


@pytest.mark.parametrize("ddof, temperature", [(0, 1.0), (1, 1.0), (0, 0.9), (1, 1.15)])
def test_gaussian_replace_expected_variance_and_mean_shift(ddof, temperature):
    n, generations = 12, 15
    ds = run(
        [
            "source.dim=2",
            "source.std=[1.0,2.0]",
            f"trainer.ddof={ddof}",
            f"generator.temperature={temperature}",
            f"n_samples={n}",
            f"generations={generations}",
            "replicates=6000",
            "seed=11",
        ]
    )
    expected = theory.gaussian_expected(generations, n=n, trace_sigma=5.0, ddof=ddof, temperature=temperature)
    assert_mean_matches(ds.variance.values, expected["variance"], "variance")
    assert_mean_matches(ds.mean_shift.values**2, expected["mean_shift_sq"], "mean_shift^2")


def test_unbiased_refits_still_collapse_almost_surely():
    n, generations = 25, 60
    ds = run(
        [
            f"n_samples={n}",
            f"generations={generations}",
            "trainer.ddof=1",
            "source.std=0.5",
            "replicates=4000",
            "seed=5",
        ]
    )
    log_var = np.log(ds.variance.values)
    assert_mean_matches(
        log_var, theory.gaussian_log_variance(generations, n=n, sigma2=0.25, ddof=1), "log variance"
    )
    # The expectation stays put while the typical chain shrinks.
    assert np.median(ds.variance.values[-1]) < 0.25 * 0.15


@pytest.mark.parametrize("real_fraction, ddof", [(0.25, 0), (0.5, 1)])
def test_fresh_data_curve_and_fixed_point(real_fraction, ddof):
    n, generations = 16, 40
    ds = run(
        [
            "mixing=fresh",
            f"mixing.real_fraction={real_fraction}",
            f"trainer.ddof={ddof}",
            "source.std=1.5",
            f"n_samples={n}",
            f"generations={generations}",
            "replicates=5000",
            "seed=2",
        ]
    )
    k = round(real_fraction * n)
    expected = theory.gaussian_expected(generations, n=n, trace_sigma=2.25, ddof=ddof, n_real=k)
    assert_mean_matches(ds.variance.values, expected["variance"], "variance")
    assert_mean_matches(ds.mean_shift.values**2, expected["mean_shift_sq"], "mean_shift^2")
    fixed = theory.gaussian_fixed_point(n=n, n_real=k, trace_sigma=2.25, ddof=ddof)
    assert expected["variance"][-1] == pytest.approx(fixed["variance"], rel=1e-6)
    assert_mean_matches(ds.variance.values[-1:], [fixed["variance"]], "fixed point")


@pytest.mark.parametrize("shift", [0.0, 2.7])
def test_wright_fisher_diversity_decay(shift):
    """Zipf's law and the Zipf-Mandelbrot law Suresh et al. draw (shift b = 2.7): E[Gini-Simpson] and
    E[surviving classes] follow their exact forms, and the plots get both."""
    n, generations = 60, 30
    ds = run(
        [
            "+experiment=zipf_tail",
            "source.n_classes=12",
            "source.exponent=0.8",
            f"source.shift={shift}",
            f"n_samples={n}",
            f"generations={generations}",
            "replicates=4000",
            "seed=9",
        ]
    )
    from collapse_sim.sources.zipf import zipf_probabilities

    probs = zipf_probabilities(12, 0.8, shift)
    ranks = np.arange(1, 13)
    np.testing.assert_allclose(probs, (ranks + shift) ** -0.8 / np.sum((ranks + shift) ** -0.8))
    frequency = ds.class_frequency.isel(generation=0).mean("replicate").values  # generation 0: real data
    assert np.all(np.abs(frequency - probs) < Z * np.sqrt(probs * (1 - probs) / n / 4000))
    expected = theory.gini_simpson_expected(generations, n=n, probs=probs)
    assert_mean_matches(ds.gini_simpson.values, expected, "gini_simpson")
    surviving = theory.surviving_classes_expected(generations, n=n, probs=probs)
    assert_mean_matches(ds.surviving_classes.values, surviving, "surviving_classes")
    # Suresh et al.'s lower bound holds at every generation, exact at generation 0.
    bound = theory.surviving_classes_lower_bound(generations, n=n, probs=probs)
    assert bound[0] == pytest.approx(surviving[0], rel=1e-12) and np.all(bound[1:] <= surviving[1:])
    assert set(theory.expected_curves(ds.attrs["config"])) == {"gini_simpson", "surviving_classes"}
    # Extinction is permanent: surviving classes never increase along a chain.
    assert (np.diff(ds.surviving_classes.values, axis=0) <= 0).all()


def test_a_class_seen_k_times_is_lost_after_the_exact_mean_time():
    """The chain of one class's count, simulated apart from the package: the mean time to its loss,
    among the chains that lose it, is ``theory.generations_to_loss``; about 2k ln(n/k), linear in k."""
    n, chains = 50, 20000
    expected = theory.generations_to_loss(n)
    rng = np.random.default_rng(3)
    for k in (1, 4):
        count, time, ended = np.full(chains, k), np.zeros(chains), np.zeros(chains, bool)
        while not ended.all():
            count = np.where(ended, count, rng.binomial(n, count / n))
            time += ~ended
            ended |= (count == 0) | (count == n)
        lost = time[count == 0]
        assert abs(lost.mean() - expected[k - 1]) < Z * lost.std(ddof=1) / np.sqrt(lost.size), k
    k = np.arange(1, 11)
    np.testing.assert_allclose(expected[:10], 2 * k * np.log(n / k) / (1 - k / n), rtol=0.12)


@pytest.mark.parametrize("mixing", ["replace", "accumulate"])
def test_linreg_replace_grows_accumulate_stays_bounded(mixing):
    n, dim, noise, generations = 24, 5, 0.7, 12
    ds = run(
        [
            "+experiment=linreg_accumulate",
            f"mixing={mixing}",
            f"source.dim={dim}",
            f"source.noise={noise}",
            f"n_samples={n}",
            f"generations={generations}",
            "replicates=4000",
            "seed=4",
            "source.test_size=200",
        ]
    )
    expected = theory.linreg_param_error(generations, n=n, dim=dim, noise=noise, mixing=mixing)
    assert_mean_matches(ds.param_error.values, expected, "param_error")
    assert_mean_matches(ds.test_mse.values, expected + noise**2, "test_mse")
    if mixing == "accumulate":
        assert expected[-1] < np.pi**2 / 6 * expected[0]


def test_expected_curves_pick_the_right_theory():

    config = build_job(["+experiment=linreg_accumulate"]).resolved
    assert set(theory.expected_curves(config)) == {"param_error", "test_mse"}
    config = build_job([*GAUSSIAN, "generator.top_p=0.9"]).resolved
    assert theory.expected_curves(config) == {}


@pytest.mark.parametrize(
    "overrides, regime",
    [
        (["trainer.bandwidth=0.1"], "collapses"),  # n d h^2 = 0.12, below T_0 = 0.93
        (["source.dim=2", "source.std=[1.0,2.0]", "trainer.bandwidth=0.6"], "inflates"),  # 8.64 > 5.3
        (["trainer.bandwidth=scott"], "inflates"),  # f^2 = 12^-0.4 > 1/12: geometric growth
        (["source=gmm", "trainer.bandwidth=silverman"], "inflates"),
    ],
)
def test_kde_refits_follow_their_closed_form_in_both_regimes(overrides, regime):

    args = ["+experiment=kde_collapse", "n_samples=12", "generations=12", "replicates=4000", "seed=5"]
    args.append("source.test_size=0")  # the variance alone: no held-out likelihood to compute
    ds = run([*args, *overrides])
    expected = theory.expected_curves(build_job([*args, *overrides]).resolved)["variance"]
    assert_mean_matches(ds.variance.values, expected, f"KDE variance {overrides}")
    assert (expected[-1] < expected[0]) == (regime == "collapses")


def test_kde_rules_set_the_kernel_as_scipy_does():
    from scipy.stats import gaussian_kde

    from collapse_sim.samples import Samples
    from collapse_sim.trainers.kde import KDEFitTrainer

    x = np.random.default_rng(0).normal(size=(2, 40, 3)) * [1.0, 2.0, 0.5]
    data = Samples({"x": x}, np.zeros((2, 40), int))
    for rule in ("scott", "silverman"):
        model = KDEFitTrainer(bandwidth=rule).fit(data)
        for r in range(2):
            reference = gaussian_kde(x[r].T, bw_method=rule)
            np.testing.assert_allclose(model.covs[r, 0], reference.covariance, rtol=1e-10)
            centred = x[r] - x[r].mean(0)
            np.testing.assert_allclose(
                model.cov[r], centred.T @ centred / 40 + reference.covariance, rtol=1e-10
            )


class LabGaussianSource(GaussianSource):
    """A user's extension of the Gaussian source: the theory still applies to it."""


def test_theory_selects_by_type_so_subclasses_get_its_curves():
    resolved = build_job(["+experiment=gaussian_collapse"]).resolved
    curves = expected_curves(resolved)
    assert np.all(np.isfinite(curves["variance"]))
    resolved["source"]["_target_"] = f"{__name__}.LabGaussianSource"
    np.testing.assert_array_equal(expected_curves(resolved)["variance"], curves["variance"])
    resolved["source"]["_target_"] = "collapse_sim.sources.gaussian.GMMSource"  # another family: no curve
    assert expected_curves(resolved) == {}


def test_suresh_s_bound_holds_for_every_count_at_every_generation():
    """Conditional on c real occurrences, the exact chance a class is still present at generation g is at
    least 1 - exp(-c / g) (Suresh et al. 2024), nearly tight at g = 1 and loose by about 2x later."""
    from scipy.stats import binom

    n = 120
    counts = np.arange(n + 1)
    step = binom.pmf(counts[None, :], n, counts[:, None] / n)
    state = np.eye(n + 1)
    for g in range(1, 150):
        state = state @ step
        present = 1.0 - state[1:, 0]
        assert np.all(present >= 1.0 - np.exp(-counts[1:] / g) - 1e-12), g
    assert 1.0 - state[1, 0] > 1.5 * (1.0 - np.exp(-1 / 149))


def test_suresh_s_corollary_holds_for_every_probability_and_is_nearly_tight_at_their_setting():
    """Their Corollary 1 (``theory.suresh_corollary_bound``) against the exact chain: a class of true
    probability p is present at generation g with probability at least 1 - exp(-n p g_(g+1)); summed over
    their notebook's laws it lies within 5 % of the exact expectation."""
    from scipy.stats import binom

    n, generations = 120, 150
    counts = np.arange(n + 1)
    step = binom.pmf(counts[None, :], n, counts[:, None] / n)
    shares = np.array([*(np.arange(1, n) / n), 0.0013, 0.37 / n])  # every count's share, and two between
    states = binom.pmf(counts[None, :], n, shares[:, None])  # generation 0: the real sample, by share
    bounds = [theory.suresh_corollary_bound(generations, n=n, probs=np.array([p])) for p in shares]
    for g in range(generations):
        assert np.all(1.0 - states[:, 0] >= np.array(bounds)[:, g] - 1e-12), g
        states = states @ step
    for exponent, shift in ((1.0, 2.7), (2.0, 5.0)):  # alphabet 1000, n = 1000, ten generations
        probs = (np.arange(1, 1001) + shift) ** -exponent
        probs /= probs.sum()
        exact = theory.surviving_classes_expected(10, n=1000, probs=probs)
        bound = theory.suresh_corollary_bound(10, n=1000, probs=probs)
        assert np.all(bound <= exact) and np.all(bound >= 0.95 * exact), (exponent, shift)
        loose = theory.surviving_classes_lower_bound(10, n=1000, probs=probs)
        assert np.all(bound[2:] > loose[2:])  # tighter than the per-count bound once it matters


class RenamedFreshMixing(FreshMixing):
    """Fresh data whose share is renamed, in the class and its config: ``real_share``."""

    def __init__(self, *, n: int, real_share: float = 0.2) -> None:
        super().__init__(n=n, real_fraction=real_share)
        self.real_share = self.__dict__.pop("real_fraction")


def test_a_renamed_setting_fails_loudly_instead_of_dropping_the_theory_curve():
    """The closed forms read the components' own attributes: renaming ``real_fraction`` in a copy of the
    mixing config, or in the class and its config, is an error naming it, never a missing curve."""
    resolved = build_job([*GAUSSIAN, "mixing=fresh", "mixing.real_fraction=0.5"]).resolved
    assert np.all(np.isfinite(expected_curves(resolved)["variance"]))
    renamed = copy.deepcopy(resolved)
    renamed["mixing"]["real_share"] = renamed["mixing"].pop("real_fraction")
    with pytest.raises(ConfigError, match=r"mixing\.real_share"):
        expected_curves(renamed)
    renamed["mixing"]["_target_"] = f"{__name__}.RenamedFreshMixing"
    with pytest.raises(AttributeError, match="real_fraction"):
        expected_curves(renamed)
