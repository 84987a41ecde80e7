"""``mixing=filtered``: a pool scraped from a web that holds model output, through a detector."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import GAUSSIAN, refused_in_process
from test_text import corpus, needs_text, text_run
from test_theory import Z

import collapse_sim as cs
from collapse_sim.api import run as api_run
from collapse_sim.components import RealData
from collapse_sim.mixing import FilteredMixing
from collapse_sim.samples import Samples
from collapse_sim.theory import filtered_real_share, importance_real_share

SETTINGS = [(0.5, 0.9, 0.05), (0.9, 0.5, 0.0), (0.8, 0.99, 0.2), (0.3, 0.0, 0.0)]


@pytest.mark.parametrize("share, tpr, fpr", SETTINGS)
def test_the_closed_form_is_the_real_share_of_a_scrape_until_n_pass(share, tpr, fpr):
    """Brute force, apart from the policy: candidates one by one, each synthetic with probability
    ``share``, each dropped as the detector does, until 40 pass; the real share of what passed."""
    rng = np.random.default_rng(7)
    shares = []
    for _ in range(3000):
        real = kept = 0
        while kept < 40:
            synthetic = rng.random() < share
            if rng.random() >= (tpr if synthetic else fpr):
                kept, real = kept + 1, real + (not synthetic)
        shares.append(real / 40)
    q = filtered_real_share(share, tpr=tpr, fpr=fpr)
    assert abs(np.mean(shares) - q) < Z * np.sqrt(q * (1 - q) / 40 / len(shares)) + 1e-12
    if share == 0.5 and fpr == 0.05:
        assert q == pytest.approx(0.95 / 1.05)  # 0.5 * 0.95 real against 0.5 * 0.1 synthetic


@pytest.mark.parametrize("share, tpr, fpr", SETTINGS)
def test_a_toy_run_keeps_the_real_share_the_closed_form_gives(share, tpr, fpr):
    n, generations, chains = 30, 6, 2000
    ds = api_run(
        [
            *GAUSSIAN,
            "mixing=filtered",
            f"mixing.synthetic_share={share}",
            f"mixing.tpr={tpr}",
            f"mixing.fpr={fpr}",
            f"n_samples={n}",
            f"generations={generations}",
            f"replicates={chains}",
            "seed=4",
        ]
    )
    q = filtered_real_share(share, tpr=tpr, fpr=fpr)
    kept = ds.real_fraction.isel(generation=slice(1, None)).values  # generation 0 is all real
    assert np.all(ds.train_size.values == n)
    assert abs(kept.mean() - q) < Z * np.sqrt(q * (1 - q) / n / kept.size) + 1e-12
    # Each chain's count is binomial: the spread across chains is the closed form's too.
    assert kept.var() == pytest.approx(q * (1 - q) / n, rel=0.1, abs=1e-12)


@needs_text
def test_a_text_run_keeps_the_real_share_the_closed_form_gives(tmp_path):
    share, tpr, fpr, n = 0.7, 0.6, 0.1, 60
    settings = [f"mixing.synthetic_share={share}", f"mixing.tpr={tpr}", f"mixing.fpr={fpr}"]
    ds = cs.run([*text_run(corpus(tmp_path / "corpus")), "mixing=filtered", *settings, "generations=6"])
    q = filtered_real_share(share, tpr=tpr, fpr=fpr)
    kept = ds.real_fraction.isel(generation=slice(1, None)).values  # 5 generations x 2 chains
    assert abs(kept.mean() - q) < Z * np.sqrt(q * (1 - q) / n / kept.size)
    assert 0 < kept.min() and kept.max() < 1  # real and model-written passages side by side


def test_model_output_comes_from_every_generation_in_the_window():
    history = [Samples.made_by(g, x=np.full((4, 50, 1), float(g))) for g in range(3)]
    real = RealData(
        train=None, test=None, truth=None, draw=lambda k, rng: Samples.real(x=np.full((4, k, 1), -1.0))
    )
    policy = FilteredMixing(n=600, synthetic_share=1.0, tpr=0.0, fpr=0.0)
    mixed = policy.mix(real, history[-1], history, np.random.default_rng(0))
    counts = np.bincount(mixed.origin.ravel(), minlength=3)
    assert set(np.unique(mixed.origin)) == {0, 1, 2} and counts.min() > 0.25 * counts.sum()
    assert FilteredMixing(n=10, window=2).history_window == 2  # the loop keeps no more


@pytest.mark.parametrize(
    "settings, key",
    [
        (["mixing.synthetic_share=1.0", "mixing.tpr=1.0"], "mixing.tpr"),
        (["mixing.fpr=1.5"], "mixing.fpr"),
        (["mixing.window=0"], "mixing.window"),
    ],
)
def test_a_detector_that_leaves_nothing_is_refused(settings, key, monkeypatch, capsys):
    said = refused_in_process([*GAUSSIAN, "mixing=filtered", *settings], monkeypatch, capsys)
    assert said.startswith(f"collapse_sim: error: {key}"), said


@pytest.mark.parametrize(
    "share, auc, alpha",
    [(0.95, 0.5, 10.0), (0.95, 0.9, 10.0), (0.6, 0.8, 2.0)],
    ids=["useless", "theirs", "mild"],
)
def test_importance_resampling_keeps_the_real_share_its_closed_form_gives(share, auc, alpha):
    """Drayson et al.'s resampling (``mixing=importance``) against ``theory.importance_real_share``,
    Rosén's successive-sampling law for a large pool, on 400 chains of a 90-candidate pool."""
    n, generations, chains = 135, 5, 400
    ds = api_run(
        [
            *GAUSSIAN,
            "mixing=importance",
            f"mixing.synthetic_share={share}",
            f"mixing.auc={auc}",
            f"mixing.alpha={alpha}",
            f"n_samples={n}",
            f"generations={generations}",
            f"replicates={chains}",
            "seed=11",
        ]
    )
    q = importance_real_share(share, auc=auc, alpha=alpha, upsample=1.5, max_repeats=3)
    kept = ds.real_fraction.isel(generation=slice(1, None)).values  # every generation's pool is new
    assert np.all(ds.train_size.values == n)
    assert abs(kept.mean() - q) < Z * kept.std(ddof=1) / np.sqrt(kept.size), (kept.mean(), q)
    if auc == 0.5:  # a detector that cannot tell weights every candidate alike: the pool's own share
        assert q == pytest.approx(1 - share)
    # However good the detector, no candidate is drawn more than 3 times: at most 3 (1 - s) / 1.5.
    best = importance_real_share(share, auc=0.999999, alpha=alpha, upsample=1.5, max_repeats=3)
    assert q <= best <= min(1.0, 3 * (1 - share) / 1.5) + 1e-9


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["mixing.auc=0.4"], "mixing.auc: must be in [0.5, 1)"),
        (["mixing.upsample=3"], "mixing.upsample: must be above 0 and below max_repeats=3"),
        (["mixing.alpha=-1"], "mixing.alpha: must be >= 0"),
    ],
)
def test_impossible_importance_settings_are_refused(settings, message, monkeypatch, capsys):
    assert message in refused_in_process([*GAUSSIAN, "mixing=importance", *settings], monkeypatch, capsys)
