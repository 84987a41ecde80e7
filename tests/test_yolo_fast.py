"""The training core ``trainer=yolo_fast``: learning, determinism, evaluation agreement, resume, CUDA."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from conftest import TINY_DETECTION

import collapse_sim as cs
from collapse_sim.components import RunContext
from collapse_sim.errors import ConfigError
from collapse_sim.metrics.detection import DetectionMetrics
from collapse_sim.scenes.dataset import DetectionSet
from collapse_sim.sources.shapes import ShapesSource
from collapse_sim.trainers.yolo_fast import YOLOFastTrainer
from collapse_sim.yolo.detector import Detector
from collapse_sim.yolo.fast_detector import FastDetector
from collapse_sim.yolo.network import read_checkpoint
from collapse_sim.yolo.tensors import BORDER, TrainingTensors, augment

FAST = ("trainer=yolo_fast",)


def easy_real(pool: int = 128, test: int = 60):
    """Two large, well separated shape classes: learnable in a few epochs."""
    source = ShapesSource(pool_size=pool, test_size=test, n_classes=2, exponent=0.0, objects_per_image=1.5)
    return source.load(np.random.default_rng(7))


def fit(trainer, data, tmp_path, *, seed: int = 0, init=None, generation: int = 0, real=None):
    trainer.setup(RunContext(tmp_path, 0, real=real))
    return trainer.fit(data, init=init, rng=np.random.default_rng(seed), generation=generation)


def test_fast_trainer_learns_an_easy_set_within_a_few_epochs(tmp_path):
    real = easy_real()
    trainer = YOLOFastTrainer(epochs=8, batch=8, device="cpu", eval_every=4)
    detector = fit(trainer, real.train, tmp_path, real=real)
    scores = DetectionMetrics().measure(detector, real.train, real)
    assert float(scores.map50) > 0.6, float(scores.map50)  # 0.88 with this seed; a broken loop stays near 0
    with open(tmp_path / "generations" / "000" / "train_log.csv") as file:
        log = list(csv.DictReader(file))
    assert [row["epoch"] for row in log] == [str(e) for e in range(8)]
    assert float(log[-1]["cls_loss"]) < float(log[0]["cls_loss"])
    # The in-training evaluation scores a fused copy of the same EMA weights that are saved.
    assert float(log[-1]["map50"]) == pytest.approx(float(scores.map50), abs=1e-6)
    assert log[0]["map50"] == ""  # only every eval_every epochs
    # The generation is measured with the network it has just written, not read back from the file; read
    # back, as a resumed run or a reader does, it is the same network and scores the same to the last bit.
    read_back = FastDetector(detector.weights, names=detector.names, imgsz=detector.imgsz, device="cpu")
    written, read = detector.network.state_dict(), read_back.network.state_dict()
    assert written.keys() == read.keys() and all(torch.equal(read[key], written[key]) for key in written)
    again = DetectionMetrics().measure(read_back, real.train, real)
    np.testing.assert_array_equal(again.ap50_95.values, scores.ap50_95.values)


def test_fast_trainer_is_deterministic_on_cpu_for_a_seed(tmp_path):
    data = easy_real(pool=32, test=1).train
    weights = []
    for run, seed in enumerate((3, 3, 4)):
        detector = fit(YOLOFastTrainer(epochs=1, batch=8, device="cpu"), data, tmp_path / str(run), seed=seed)
        weights.append(detector.network.state_dict())
    for key, value in weights[0].items():
        assert torch.equal(value, weights[1][key]), key
    assert any(not torch.equal(v, weights[2][k]) for k, v in weights[0].items() if v.is_floating_point())


@pytest.mark.xdist_group("trained")
def test_stock_and_fast_evaluation_agree_on_the_same_weights(trained):
    """An Ultralytics checkpoint (the session's trained detector) scored through Ultralytics'
    predictor and through the in-memory path."""
    stock, real, _ = trained
    both = [
        DetectionMetrics().measure(d, real.train, real)
        for d in (stock, FastDetector(stock.weights, names=stock.names, imgsz=64, device="cpu"))
    ]
    assert float(both[0].map50) > 0.05  # something was detected, so the agreement means something
    for name in ("map50", "map50_95"):
        assert float(both[0][name]) == pytest.approx(float(both[1][name]), abs=0.01), name
    np.testing.assert_allclose(both[0].ap50_95.values, both[1].ap50_95.values, atol=0.02)


def test_fast_checkpoints_are_ultralytics_checkpoints(tmp_path):
    """What yolo_fast saves, Ultralytics' YOLO() loads, and both predict the same boxes."""
    real = easy_real(pool=32, test=8)
    fast = fit(YOLOFastTrainer(epochs=2, batch=8, device="cpu"), real.train, tmp_path)
    stock_view = Detector(fast.weights, names=fast.names, imgsz=64, device="cpu")
    a = fast.predict(real.test.images, conf=1e-4)
    b = stock_view.predict(real.test.images, conf=1e-4)
    assert sum(len(x) for x in a) > 0
    for x, y in zip(a, b, strict=True):
        assert len(x) == len(y)
        # the same set of boxes; boxes of equal confidence may come in either order
        x, y = (z[np.lexsort(np.round(z, 3).T[::-1])] for z in (x, y))
        np.testing.assert_allclose(x, y, atol=2e-3)


def test_warm_start_fine_tunes_the_previous_generation(tmp_path):
    real = easy_real(pool=32, test=1)
    trainer = YOLOFastTrainer(epochs=1, batch=8, device="cpu", lr0=1e-12)
    first = fit(trainer, real.train, tmp_path)
    second = fit(trainer, real.train, tmp_path, init=first, generation=1)
    # With a vanishing learning rate the weights stay those it started from (BatchNorm statistics aside);
    # a cold start would draw new ones.
    cold = fit(trainer, real.train, tmp_path / "cold", seed=1)
    a, b, c = (read_checkpoint(d.weights).state_dict() for d in (first, second, cold))
    learnt = [k for k in a if "running" not in k and a[k].is_floating_point()]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in learnt)
    assert not all(torch.allclose(a[k], c[k], atol=1e-6) for k in learnt)


def test_batches_carry_their_own_labels():
    labels = [np.array([[1, 0.5, 0.5, 0.2, 0.2]]), np.zeros((0, 5)), np.array([[0, 0.2, 0.3, 0.1, 0.1]] * 2)]
    images = np.zeros((3, 64, 64, 3), np.uint8)
    tensors = TrainingTensors.from_set(DetectionSet.real(images, labels, ("a", "b")), 64, torch.device("cpu"))
    _, batch = tensors.batch(torch.tensor([2, 0, 1]))
    expected = [[0, 0, 0.2, 0.3, 0.1, 0.1], [0, 0, 0.2, 0.3, 0.1, 0.1], [1, 1, 0.5, 0.5, 0.2, 0.2]]
    np.testing.assert_allclose(batch.numpy(), expected)


def test_augmented_boxes_follow_the_pixels():
    """Zoom, shift and flip move a white square exactly where its augmented label says."""
    n, side = 64, 64
    images = torch.zeros(n, 3, side, side)
    images[:, :, 20:36, 10:26] = 1.0  # a 16 x 16 square, centre (18, 28) px
    labels = torch.tensor([[i, 0, 18 / 64, 28 / 64, 16 / 64, 16 / 64] for i in range(n)])
    generator = torch.Generator().manual_seed(0)
    out, moved = augment(
        images, labels.clone(), generator=generator, fliplr=0.5, scale=0.3, translate=0.1, hsv_s=0, hsv_v=0
    )
    assert len(moved) == n  # nothing was pushed out of the image at these settings
    errors = []
    for i, x in enumerate(out):
        bright = torch.nonzero(x[0] > (1 + BORDER) / 2)
        y0, x0 = bright.min(0).values.float()
        y1, x1 = bright.max(0).values.float() + 1
        found = torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]) / side
        errors.append((found - moved[i, 2:]).abs().max() * side)
    assert max(errors) < 1.5, max(errors)  # within a pixel and a half (bilinear edges)


def test_colour_gains_keep_images_in_range():
    images = torch.rand(16, 3, 32, 32)
    out, _ = augment(
        images,
        torch.zeros(0, 6),
        generator=torch.Generator().manual_seed(1),
        fliplr=0,
        scale=0,
        translate=0,
        hsv_s=0.7,
        hsv_v=0.4,
    )
    assert out.min() >= 0 and out.max() <= 1 and not torch.equal(out, images)


def test_simulation_with_fast_trainer_records_every_variable():
    """Every variable of metrics=detection and the bookkeeping, each with its units and description, filled
    for both generations: scalars finite, per-class values finite wherever the class is present."""
    args = [*TINY_DETECTION, *FAST]
    ds = cs.run(args).isel(replicate=0)
    assert ds.sizes["generation"] == 2
    from conftest import build_job

    from collapse_sim.loop import stream

    sim = build_job(args).sim
    tested = sim.source.load(stream(sim.seed, 0, "source")).test.class_counts() > 0  # classes in the test set
    assert set(ds.data_vars) == {
        *("map50", "map50_95", "ap50_95", "recall", "ap50_95_by_size"),  # on the real test set
        *("class_frequency", "surviving_classes", "entropy", "gini_simpson", "missing_mass"),
        *("objects_per_image", "box_size_distance", "box_size_spread", "dataset_hash"),
        *("label_precision", "label_recall", "label_precision_by_class", "label_recall_by_class"),
        *("label_truth_by_class", "train_size", "real_fraction", "wall_time_s"),
    }
    present = ds.class_frequency > 0  # classes in the generation's training labels
    for name, da in ds.data_vars.items():
        assert da.attrs["units"] is not None and da.attrs["description"], name
        if name == "dataset_hash":
            assert all(len(str(h)) == 16 for h in da.values)
        elif name in ("ap50_95", "recall"):  # scored for every class the real test set holds
            assert da.sizes["class"] == 8 and bool(np.isfinite(da[:, tested]).all()), name
        elif name in ("label_precision_by_class", "label_recall_by_class"):
            assert bool(np.isfinite(da.where(present)).sum() == present.sum()), name
        elif name == "label_truth_by_class":  # generation 0 trains on real labels: they are the truth
            first = da.isel(generation=0)
            np.testing.assert_allclose(first / first.sum(), ds.class_frequency.isel(generation=0))
        elif "class" not in da.dims:
            assert np.isfinite(da).all(), name
        if "valid_min" in da.attrs and name != "dataset_hash":
            assert float(da.min()) >= da.attrs["valid_min"] and float(da.max()) <= da.attrs.get(
                "valid_max", np.inf
            )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"imgsz": 80}, "imgsz: must be a multiple of 32"),
        ({"precision": "fp8"}, "precision: must be one of auto, fp32, bf16"),
        ({"translate": 1.5}, "translate: must be a number in [0, 1]"),
        ({"eval_every": -1}, "eval_every: must be an integer >= 0"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        YOLOFastTrainer(device="cpu", **settings)


@pytest.mark.cuda
def test_fast_trainer_on_cuda_trains_in_bf16_and_scores_like_the_cpu(tmp_path):
    real = easy_real()
    trainer = YOLOFastTrainer(epochs=8, batch=8, device="cuda")
    assert trainer.precision == "bf16"
    detector = fit(trainer, real.train, tmp_path)
    on_gpu = DetectionMetrics().measure(detector, real.train, real)
    on_cpu = DetectionMetrics().measure(
        FastDetector(detector.weights, names=detector.names, imgsz=64, device="cpu"), real.train, real
    )
    assert float(on_gpu.map50) > 0.6
    assert float(on_gpu.map50) == pytest.approx(float(on_cpu.map50), abs=0.03)


@pytest.mark.cuda
def test_cuda_training_keeps_the_data_on_the_gpu(tmp_path):
    real = easy_real(pool=32, test=1)
    tensors = TrainingTensors.from_set(real.train, 64, torch.device("cuda"))
    assert tensors.images.is_cuda and tensors.labels.is_cuda and tensors.images.dtype == torch.uint8
    images, labels = tensors.batch(torch.arange(8, device="cuda"))
    assert images.is_cuda and labels.is_cuda
