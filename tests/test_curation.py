"""Curation by a reward (Ferbach et al. 2024): the Bradley-Terry choice, its large-k tilt, and the loop."""

from __future__ import annotations

import itertools
from math import factorial

import numpy as np
import pytest
from conftest import GAUSSIAN, refused_in_process
from test_theory import Z, assert_mean_matches

from collapse_sim import theory
from collapse_sim.api import run as api_run
from collapse_sim.components import RUN_ABILITIES
from collapse_sim.generators.refit_sample import RefitSampleGenerator
from collapse_sim.models.categorical import CategoricalModel, class_counts
from collapse_sim.models.gaussian import GaussianMixtureModel
from collapse_sim.rewards import ClassPreferenceReward, CuratedGenerator, QuadraticReward

ZIPF = ("source=zipf", "generator=refit_sample", "trainer=categorical_fit", "metrics=classes")


def _curate(model, reward, n: int, seed: int = 0):
    generator = CuratedGenerator(RefitSampleGenerator(n=n), reward)
    return generator.generate(model, None, 0, np.random.default_rng(seed), real=None)


def test_the_choice_among_k_candidates_is_bradley_terry_exactly():
    """Three classes, k = 4: the chance a class is kept is the multinomial average of
    n_c e^(r_c/beta) / sum_j n_j e^(r_j/beta) over the candidates' class counts (n_1, n_2, n_3)."""
    probs, rewards, k, beta = np.array([0.6, 0.3, 0.1]), np.array([0.0, 1.0, 2.5]), 4, 0.8
    exact = np.zeros(3)
    for counts in itertools.product(range(k + 1), repeat=3):
        if sum(counts) != k:
            continue
        chance = factorial(k) / np.prod([factorial(c) for c in counts]) * np.prod(probs**counts)
        strength = np.array(counts) * np.exp(rewards / beta)
        exact += chance * strength / strength.sum()
    reward = ClassPreferenceReward(rewards=rewards.tolist(), k=k, beta=beta)
    model = CategoricalModel(np.tile(probs, (50, 1)), ("a", "b", "c"))
    kept = class_counts(_curate(model, reward, n=2000)["label"], 3).sum(axis=0) / 100_000
    se = np.sqrt(exact * (1 - exact) / 100_000)
    assert np.all(np.abs(kept - exact) < Z * se), (kept, exact)
    assert exact[2] > 2 * probs[2]  # the preferred rare class gains


def test_many_candidates_tilt_a_gaussian_by_the_reward():
    """k -> infinity: N(0, 1) tilted by exp(-scale (x - t)^2 / beta) is N(a t / (1 + a), 1 / (1 + a)),
    a = 2 scale / beta. At k = 512 the choice's bias (order 1/k) is far below the Monte-Carlo error."""
    scale, beta, target = 0.5, 0.8, 1.5
    a = 2 * scale / beta
    model = GaussianMixtureModel.single(np.zeros((100, 1)), np.ones((100, 1, 1)))
    x = _curate(model, QuadraticReward(target=target, scale=scale, k=512, beta=beta), n=400)["x"][..., 0]
    mean, variance = a * target / (1 + a), 1 / (1 + a)
    assert abs(x.mean() - mean) < Z * np.sqrt(variance / x.size)
    assert abs(x.var() - variance) < Z * variance * np.sqrt(2 / x.size)


def test_beta_zero_keeps_the_best_candidate():
    reward = ClassPreferenceReward(rewards=[0.0, 1.0, 2.0, 3.0], k=3, beta=0)
    model = CategoricalModel(np.tile([0.4, 0.3, 0.2, 0.1], (20, 1)), ("a", "b", "c", "d"))
    generator, rng = RefitSampleGenerator(n=50), np.random.default_rng(4)
    candidates = [generator.generate(model, None, 0, rng, real=None) for _ in range(3)]  # as curation draws
    kept = CuratedGenerator(generator, reward).generate(model, None, 0, np.random.default_rng(4), real=None)
    best = np.max([c["label"] for c in candidates], axis=0)  # the class's reward is its index here
    np.testing.assert_array_equal(kept["label"], best)


def test_the_curated_loop_follows_the_tilted_precision_generation_after_generation():
    n, generations, scale, beta = 100, 6, 0.25, 1.0
    ds = api_run(
        [
            *GAUSSIAN,
            "reward=quadratic",
            "reward.target=2.0",
            f"reward.scale={scale}",
            f"reward.beta={beta}",
            "reward.k=256",
            f"n_samples={n}",
            f"generations={generations}",
            "replicates=400",
            "seed=2",
        ]
    )
    expected = theory.curated_gaussian_precision(generations, n=n, sigma2=1.0, scale=scale, beta=beta)
    assert_mean_matches(1 / ds.variance.values, expected, "1 / variance")
    assert theory.expected_curves(ds.attrs["config"]) == {}  # the uncurated closed forms do not apply


def test_one_candidate_is_no_curation():
    common = [*GAUSSIAN, "generations=4", "n_samples=30", "replicates=5", "seed=8"]
    plain, curated = api_run(common), api_run([*common, "reward=quadratic", "reward.k=1"])
    assert set(curated.data_vars) - set(plain.data_vars) == {"reward_mean"}
    for variable in plain.data_vars:
        if variable != "wall_time_s":
            np.testing.assert_array_equal(plain[variable].values, curated[variable].values, err_msg=variable)


def test_curation_under_replace_climbs_the_reward_and_real_data_bounds_it():
    """Ferbach et al.: under replace the reward rises and the variance collapses toward the maximiser;
    with a fifth of each generation from the real pool the variance stays near the real one."""
    common = [*GAUSSIAN, "reward=quadratic", "reward.target=2.0", "generations=12", "replicates=200"]
    replace = api_run([*common, "mixing=replace"])
    mixed = api_run([*common, "mixing=fraction", "mixing.real_fraction=0.2"])

    def interval(da):
        values = da.values
        half = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
        return values.mean() - half, values.mean() + half

    first, last = replace.isel(generation=0), replace.isel(generation=-1)
    assert interval(last.reward_mean)[0] > interval(first.reward_mean)[1]
    assert interval(last.variance)[1] < 0.2 < interval(first.variance)[0]
    assert interval(mixed.isel(generation=-1).variance)[0] > 0.4 > interval(last.variance)[1]


@pytest.mark.parametrize(
    "args, key",
    [
        ([*ZIPF, "reward=quadratic"], "metrics.reward"),
        (
            [*ZIPF, "reward=class_preference", "reward.rewards=[1,2,3]", "source.n_classes=2"],
            "reward.rewards",
        ),
        ([*GAUSSIAN, "reward=quadratic", "reward.beta=-1"], "reward.beta"),
        ([*GAUSSIAN, "reward=quadratic", "reward.target=[1,2]"], "reward.target"),
    ],
)
def test_a_reward_that_does_not_fit_is_refused_naming_its_key(args, key, monkeypatch, capsys):
    said = refused_in_process(args, monkeypatch, capsys)
    assert said.startswith(f"collapse_sim: error: {key}"), said


def _gaussian_mixings() -> list[str]:
    """The mixing policies the Gaussian family admits (all but those limited to other data)."""
    from families import classes, options

    chosen = [classes(g, o) for g, o in (o.split("=") for o in GAUSSIAN)]
    offered = RUN_ABILITIES.union(*(c.provides for found in chosen for c in found))
    return [m for m in options("mixing") if all(c.needs <= offered for c in classes("mixing", m))]


@pytest.mark.parametrize("mixing", _gaussian_mixings())
def test_curation_composes_with_every_mixing_policy(mixing):
    ds = api_run([*GAUSSIAN, f"mixing={mixing}", "reward=quadratic", "+debug=default", "replicates=3"])
    assert np.isfinite(ds.reward_mean.values).all() and ds.sizes["generation"] == 3
