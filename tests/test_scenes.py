"""The detection world without a detector: sample sets, scene laws, rendering, label checks, verification."""

from __future__ import annotations

import numpy as np
import pytest

from collapse_sim.components import RealData
from collapse_sim.mixing import FractionMixing, VerifiedMixing
from collapse_sim.scenes.dataset import DetectionSet
from collapse_sim.scenes.law import box_iou, fit_law
from collapse_sim.scenes.quality import correct_labels, images_correct, label_quality
from collapse_sim.scenes.render import box_colours
from collapse_sim.sources.shapes import ShapesSource, world_law


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.fixture(scope="module")
def real():
    return ShapesSource(pool_size=300, test_size=100).load(rng(0))


def test_source_is_seeded_and_test_set_is_separate(real):
    again = ShapesSource(pool_size=300, test_size=100).load(rng(0))
    assert np.array_equal(real.train.images, again.train.images)
    assert real.train.content_hash() == again.train.content_hash()
    train_pixels = {im.tobytes() for im in real.train.images}
    assert not any(im.tobytes() in train_pixels for im in real.test.images)
    other = ShapesSource(pool_size=300, test_size=100).load(rng(1))
    assert not np.array_equal(real.train.images, other.train.images)


def test_labels_are_valid_yolo_boxes_inside_the_image(real):
    objects = real.train.objects()
    assert objects.shape[1] == 5 and len(objects) > 300
    lo = objects[:, 1:3] - objects[:, 3:5] / 2
    hi = objects[:, 1:3] + objects[:, 3:5] / 2
    assert (lo >= -1e-6).all() and (hi <= 1 + 1e-6).all()
    assert (objects[:, 3:5] * 64 >= 9).all(), "objects must stay big enough for a detector at 64 px"
    assert real.train.origin.shape == (1, 300) and real.train.real_share() == 1.0


def test_objects_per_class_follow_the_law_within_monte_carlo_error():
    law = world_law(8, 1.7, 2.5, rng(3))
    draw = rng(10)
    n = 6000
    counts = np.array(
        [np.bincount(law.sample_objects(draw)[0][:, 0].astype(int), minlength=8) for _ in range(n)]
    )
    se = np.sqrt(law.count_mean / n)  # Poisson counts: variance = mean
    assert np.all(np.abs(counts.mean(0) - law.count_mean) < 4 * se)
    assert 0.01 <= law.class_shares[-1] <= 0.02, "the rarest class holds 1-2 % of objects"


def test_fit_recovers_the_law_it_sampled():
    law = world_law(4, 0.5, 2.5, rng(5))
    n = 1500
    images, labels = law.render(n, 64, rng(6))
    fitted = fit_law(images, labels, law.shapes)
    np.testing.assert_allclose(fitted.count_mean, law.count_mean, atol=4 * np.sqrt(law.count_mean.max() / n))
    np.testing.assert_allclose(fitted.colour_mean, law.colour_mean, atol=8)
    np.testing.assert_allclose(fitted.log_size_mean, law.log_size_mean, atol=0.06)


def test_a_class_without_objects_stays_extinct_after_a_refit(real):
    keep = [i for i, lab in enumerate(real.train.labels) if not (lab[:, 0] == 7).any() and len(lab)]
    fitted = fit_law(real.train.images[keep], [real.train.labels[i] for i in keep], real.truth.law.shapes)
    assert fitted.count_mean[7] == 0.0
    images, labels = fitted.render(200, 64, rng(2))
    assert not any((lab[:, 0] == 7).any() for lab in labels)


def test_the_scene_model_refits_to_fit_images_of_the_generation(real):
    from collapse_sim.generators.scene_model import SceneModelGenerator

    single = [i for i, lab in enumerate(real.train.labels) if len(lab) and len(set(lab[:, 0])) == 1][:30]
    data = real.train.take(single)  # every image holds objects of one class only
    assert len(set(data.objects()[:, 0])) > 2
    one = SceneModelGenerator(n=60, fit_images=1).generate(None, data, 0, rng(4), real=real)
    every = SceneModelGenerator(n=60).generate(None, data, 0, rng(4), real=real)
    assert len(set(one.objects()[:, 0])) == 1  # refitted from one image: one class left
    assert len(set(every.objects()[:, 0])) > 2


def test_the_scene_model_reads_colours_as_its_colour_estimate_says(tmp_path, monkeypatch, capsys, real):
    from conftest import refused_in_process

    from collapse_sim.generators.scene_model import SceneModelGenerator

    # Same labels drawn either way (colours are read after the layout is fitted), different pixels.
    made = {
        estimate: SceneModelGenerator(n=40, colour_estimate=estimate).generate(
            None, real.train, 0, rng(5), real=real
        )
        for estimate in ("centre", "mask")
    }
    np.testing.assert_array_equal(made["centre"].objects(), made["mask"].objects())
    assert not np.array_equal(made["centre"].images, made["mask"].images)
    refused = refused_in_process(
        ["+debug=default", "generator.colour_estimate=median", f"hydra.run.dir={tmp_path / 'run'}"],
        monkeypatch,
        capsys,
    )
    assert "generator.colour_estimate: must be centre (pixels at box centres" in refused and "mask" in refused
    assert not (tmp_path / "run").exists()


def test_temperature_sharpens_class_shares_and_top_p_truncates(real):
    law = real.truth.law
    sharp = law.sharpened(0.5)
    expected = law.class_shares**2 / (law.class_shares**2).sum()
    np.testing.assert_allclose(sharp.class_shares, expected)
    np.testing.assert_allclose(sharp.count_mean.sum(), law.count_mean.sum())
    np.testing.assert_allclose(sharp.log_size_cov, law.log_size_cov * 0.5)
    cut = law.sharpened(1.0, top_p=0.9)
    kept = cut.count_mean > 0
    assert law.class_shares[kept].sum() >= 0.9 and law.class_shares[kept][:-1].sum() < 0.9
    assert not kept[-1]


def test_box_colours_read_the_drawn_colour(real):
    law = real.truth.law
    objects, colours = law.sample_objects(rng(4))
    from collapse_sim.scenes.render import background, draw_scene

    image = draw_scene(background(64, rng(4)), objects, colours, law.shapes)
    measured = box_colours(image, objects)
    # The centre pixel can be covered by a later, overlapping object; most are exact.
    assert np.mean(np.all(np.abs(measured - colours.astype(int)) <= 1, axis=1)) >= 0.5


def test_mask_colours_read_each_object_s_own_pixels_where_centres_miss(real):
    """Over many scenes, the mask reads every visible object's drawn colour; the centre misses some."""
    from collapse_sim.scenes.render import background, draw_scene, mask_colours

    law = real.truth.law
    centre_exact, mask_exact = [], []
    for seed in range(60):
        objects, colours = law.sample_objects(rng(seed))
        if not len(objects):
            continue
        image = draw_scene(background(64, rng(seed)), objects, colours, law.shapes)
        drawn = colours.astype(int)
        mask_exact += list(np.all(np.abs(mask_colours(image, objects, law.shapes) - drawn) <= 1, axis=1))
        centre_exact += list(np.all(np.abs(box_colours(image, objects) - drawn) <= 1, axis=1))
    assert np.mean(mask_exact) > 0.97 and np.mean(centre_exact) < np.mean(mask_exact) - 0.03
    images, labels = law.render(40, 64, rng(7))
    faithful = fit_law(images, labels, law.shapes, colour_estimate="mask")
    rare = np.argsort(law.count_mean)[:2]  # few objects: a centre read errs most where a class is rare
    centred = fit_law(images, labels, law.shapes)
    error = {
        name: np.linalg.norm(fit.colour_mean[rare] - law.colour_mean[rare], axis=1).mean()
        for name, fit in (("mask", faithful), ("centre", centred))
    }
    assert error["mask"] < error["centre"]


def test_sample_set_take_subsample_concat_keep_provenance(real):
    a = real.train.take([3, 1])
    assert np.array_equal(a.images[0], real.train.images[3]) and a.labels[1] is real.train.labels[1]
    fake = DetectionSet.made_by(4, a.images, [np.zeros((0, 5))] * 2, a.truth, a.names)
    both = DetectionSet.concat([a, fake])
    assert list(both.origin[0]) == [-1, -1, 4, 4] and both.real_share() == 0.5
    assert both.class_counts().sum() == a.class_counts().sum()
    sub = both.subsample(3, rng())
    assert len(sub) == 3 and sub.replicates == 1
    assert a.content_hash() != fake.content_hash()
    with pytest.raises(ValueError, match="cannot draw 5 images from 4"):
        both.subsample(5, rng())


def test_label_quality_counts_misses_and_wrong_classes():
    truth = np.array([[0, 0.3, 0.3, 0.2, 0.2], [1, 0.7, 0.7, 0.2, 0.2]], dtype=np.float32)
    assert correct_labels(truth, truth) == 2
    shifted = truth + np.array([0, 0.15, 0, 0, 0], dtype=np.float32)  # IoU 1/7 with the truth
    assert correct_labels(shifted, truth) == 0
    wrong_class = truth.copy()
    wrong_class[0, 0] = 1
    assert correct_labels(wrong_class, truth) == 1
    data = DetectionSet.made_by(
        0, np.zeros((3, 8, 8, 3), np.uint8), [truth, truth[:1], wrong_class], [truth] * 3, ("a", "b")
    )
    hits, n_labels, n_truth = label_quality(data)
    assert list(hits) == [2, 1, 1] and list(n_labels) == [2, 1, 2] and list(n_truth) == [2, 2, 2]
    assert list(images_correct(data)) == [True, False, False]
    np.testing.assert_allclose(box_iou(truth[:, 1:], truth[:, 1:]), [[1, 0], [0, 1]], atol=1e-6)


def test_verified_mixing_keeps_right_images_with_phi_and_wrong_with_psi():
    truth = np.array([[0, 0.5, 0.5, 0.3, 0.3]], dtype=np.float32)
    n = 4000
    right, wrong = [truth] * (n // 2), [np.zeros((0, 5), np.float32)] * (n // 2)
    synthetic = DetectionSet.made_by(1, np.zeros((n, 8, 8, 3), np.uint8), right + wrong, [truth] * n, ("a",))
    pool = DetectionSet.real(np.zeros((50, 8, 8, 3), np.uint8), [truth] * 50, ("a",))
    real = RealData(pool, None, None, None)
    phi, psi = 0.8, 0.1
    mixed = VerifiedMixing(n=n, phi=phi, psi=psi).mix(real, synthetic, [synthetic], rng(7))
    kept_right = sum(len(lab) == 1 for lab in mixed.labels)
    kept_wrong = len(mixed) - kept_right
    for kept, p in ((kept_right, phi), (kept_wrong, psi)):
        se = np.sqrt((n // 2) * p * (1 - p))
        assert abs(kept - (n // 2) * p) < 4 * se
    with_real = VerifiedMixing(n=100, phi=1.0, psi=0.0, real_fraction=0.2).mix(
        real, synthetic, [synthetic], rng(8)
    )
    assert len(with_real) == 100 and with_real.real_share() == 0.2
    nothing = VerifiedMixing(n=10, phi=0.0, psi=0.0)
    with pytest.raises(RuntimeError, match="kept none of"):
        nothing.mix(real, synthetic, [synthetic], rng(9))


def test_generic_mixing_policies_work_on_detection_sets(real):
    synthetic = DetectionSet.made_by(
        2, real.train.images[:50], real.train.labels[:50], real.train.truth[:50], real.train.names
    )
    mixed = FractionMixing(n=40, real_fraction=0.25).mix(real, synthetic, [synthetic], rng(1))
    assert len(mixed) == 40 and mixed.real_share() == 0.25


def test_rare_classes_never_share_the_commonest_class_colour():
    from collapse_sim.sources.shapes import hue_slots

    for n in range(2, 11):
        slots = hue_slots(n)
        assert sorted(slots) == list(range(n))
        distance = np.minimum(slots, n - slots)  # circular distance to class 0's hue slot
        # Only the next two commonest classes sit next to the commonest class's colour.
        assert set(np.flatnonzero(distance == 1)) <= {1, 2}
