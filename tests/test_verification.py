"""Label quality per class, and a human who screens (select) or fixes (correct) a budget of images."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY_DETECTION

import collapse_sim as cs
from collapse_sim.components import RealData
from collapse_sim.errors import ConfigError
from collapse_sim.metrics.detection_data import DetectionDataMetrics
from collapse_sim.mixing import VerifiedMixing
from collapse_sim.scenes.dataset import DetectionSet
from collapse_sim.scenes.quality import images_correct, label_quality_by_class

NAMES = ("circle", "star", "cross")


def _pseudo_labelled(n: int) -> DetectionSet:
    """n images each holding a circle and a star; the labeller finds the circle of every image, the star
    of even images only, and adds a wrong cross to every third image."""
    truth = [[[0, 0.3, 0.3, 0.2, 0.2], [1, 0.7, 0.7, 0.2, 0.2]] for _ in range(n)]
    labels = []
    for i in range(n):
        found = [truth[i][0]] + ([truth[i][1]] if i % 2 == 0 else [])
        labels.append(found + ([[2, 0.5, 0.5, 0.1, 0.1]] if i % 3 == 0 else []))
    images = np.zeros((n, 64, 64, 3), dtype=np.uint8)
    return DetectionSet.made_by(1, images, labels, truth, NAMES)


def _real(n: int) -> RealData:
    boxes = [[[0, 0.5, 0.5, 0.1 + 0.05 * i, 0.2]] for i in range(n)]
    pool = DetectionSet.real(np.zeros((n, 64, 64, 3), dtype=np.uint8), boxes, NAMES)
    return RealData(pool, pool, None, lambda k, rng: pool.subsample(k, rng))


def test_label_quality_by_class_names_the_classes_the_labeller_drops():
    data = _pseudo_labelled(12)
    hits, labelled, true = label_quality_by_class(data, 3)
    assert hits.tolist() == [12, 6, 0] and labelled.tolist() == [12, 6, 4] and true.tolist() == [12, 12, 0]
    pool = _real(4)
    pool = RealData(
        pool.train, pool.test, type("Truth", (), {"class_shares": np.array([0.5, 0.5, 0.0])})(), None
    )
    ds = DetectionDataMetrics().measure(None, data, pool)
    np.testing.assert_array_equal(ds.label_recall_by_class.values, [1.0, 0.5, np.nan])
    np.testing.assert_array_equal(ds.label_precision_by_class.values, [1.0, 1.0, 0.0])
    assert float(ds.label_recall) == pytest.approx(18 / 24)


def test_a_human_who_corrects_every_image_leaves_only_true_labels():
    data, rng = _pseudo_labelled(12), np.random.default_rng(0)
    mixed = VerifiedMixing(n=12, mode="correct").mix(_real(4), data, [data], rng)
    assert len(mixed) == 12 and images_correct(mixed).all()


def test_a_budget_limits_what_is_checked():
    data = _pseudo_labelled(12)
    right = images_correct(data)  # images 2, 4, 8 and 10: every star found, no extra cross
    assert right.tolist() == [i in (2, 4, 8, 10) for i in range(12)]
    checked = np.zeros(12, dtype=bool)
    checked[np.random.default_rng(1).permutation(12)[:4]] = True  # the checker's 4 images, as mix draws them
    corrected = VerifiedMixing(n=12, mode="correct", budget=4).mix(
        _real(4), data, [data], np.random.default_rng(1)
    )
    assert len(corrected) == 12 and images_correct(corrected).sum() == (right | checked).sum()
    screened = VerifiedMixing(n=12, mode="select", budget=4).mix(
        _real(4), data, [data], np.random.default_rng(1)
    )
    # A perfect screen drops the wrong images among the 4 checked; the 8 unchecked pass as they are.
    dropped = (~right & checked).sum()
    assert len(screened) == 12 - dropped
    assert (~images_correct(screened)).sum() == (~right).sum() - dropped > 0


def test_nobody_checking_passes_every_image_as_labelled():
    data = _pseudo_labelled(12)
    mixed = VerifiedMixing(n=12, mode="none", budget=4).mix(_real(4), data, [data], np.random.default_rng(1))
    assert len(mixed) == 12
    assert sorted(map(len, mixed.labels)) == sorted(map(len, data.labels))
    assert images_correct(mixed).sum() == images_correct(data).sum() == 4


def test_select_without_a_budget_keeps_todays_randomness():
    data = _pseudo_labelled(12)
    kept = VerifiedMixing(n=12).mix(_real(4), data, [data], np.random.default_rng(3))
    expected_rng = np.random.default_rng(3)
    keep = expected_rng.random(12) < np.where(images_correct(data), 1.0, 0.0)
    assert len(kept) == keep.sum() and images_correct(kept).all()


@pytest.mark.parametrize(
    ("settings", "key"),
    [({"mode": "fix"}, "mode"), ({"budget": -1}, "budget"), ({"budget": 2.5}, "budget")],
)
def test_bad_verification_settings_name_the_key(settings, key):
    with pytest.raises(ConfigError) as error:
        VerifiedMixing(n=10, **settings)
    assert error.value.key == key


def test_the_verified_data_experiment_corrects_every_checked_label():
    tiny = [*TINY_DETECTION, "source.pool_size=32", "generator.n=24", "mixing.budget=null"]
    corrected = cs.run(["+experiment=verified_data", *tiny, "mixing.mode=correct"]).isel(replicate=0)
    unchecked = cs.run(["+experiment=verified_data", *tiny, "mixing.mode=none"]).isel(replicate=0)
    # A one-epoch detector labels badly; a human who fixes every image leaves only true labels.
    assert float(corrected.label_precision[1]) == float(corrected.label_recall[1]) == 1.0
    assert float(unchecked.label_recall[1]) < 0.5
