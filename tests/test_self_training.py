"""A user's own pipeline: their trained detector as generation 0, their unlabelled images as the pool,
an audit of the pseudo-labels, the exported example, and every bad input refused before any work."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import (
    ROOT,
    assert_same_results,
    assert_scores_match_ultralytics_val,
    kill_after,
    named_checkpoint,
    refused_in_process,
    user_env,
)

import collapse_sim as cs
from collapse_sim.export import write_shapes_dataset

SHAPES3 = ("circle", "square", "triangle")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A small 3-class shapes world on disk with an untrained, correctly named ``best.pt``."""
    folder = tmp_path_factory.mktemp("export") / "shapes_data"
    write_shapes_dataset(folder, labelled=60, unlabelled=60, test=24, n_classes=3, exponent=0.0)
    named_checkpoint(folder / "best.pt", SHAPES3)
    return folder


def own_data(folder, *extra: str) -> list[str]:
    """The experiment at debug size on ``folder``'s data, unlabelled images and weights."""
    return [
        "+experiment=self_training_audit",
        "+debug=default",
        f"source.data={folder / 'data.yaml'}",
        f"source.unlabelled={folder / 'unlabelled'}",
        f"trainer.model={folder / 'best.pt'}",
        *extra,
    ]


def test_the_export_writes_an_ultralytics_dataset_with_an_unlabelled_folder(exported):
    import yaml

    spec = yaml.safe_load((exported / "data.yaml").read_text())
    assert list(spec["names"].values()) == list(SHAPES3) and spec["test"] == "images/test"
    assert len(list((exported / "images" / "train").glob("*.png"))) == 60
    assert len(list((exported / "unlabelled").glob("*.png"))) == 60
    assert not list((exported / "unlabelled").glob("*.txt"))  # a pool without labels
    assert len(list((exported / "truth" / "unlabelled").glob("*.txt"))) == 60


@pytest.mark.slow
def test_the_export_command_trains_best_pt_with_the_stock_trainer_and_never_overwrites(tmp_path):
    from collapse_sim.yolo.network import checkpoint_names

    folder = tmp_path / "shapes_data"
    sizes = ["--labelled", "16", "--unlabelled", "4", "--test", "4", "--classes", "3"]
    command = [sys.executable, "-m", "collapse_sim.export", str(folder), *sizes]
    made = subprocess.run(
        [*command, "--train", "--epochs", "1"], capture_output=True, text=True, env=user_env()
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[-1] == f"weights: {folder / 'best.pt'}"
    assert checkpoint_names(str(folder / "best.pt")) == SHAPES3  # trained on the data.yaml's names
    assert sorted(p.name for p in folder.iterdir()) == [
        *("best.pt", "data.yaml", "images", "labels", "truth", "unlabelled")
    ]
    before = (folder / "best.pt").read_bytes()
    again = subprocess.run(command, capture_output=True, text=True, env=user_env())
    assert again.returncode == 2 and "already exists and is not an empty folder" in " ".join(
        again.stderr.split()
    )
    assert "Traceback" not in again.stderr and (folder / "best.pt").read_bytes() == before


@pytest.mark.slow
@pytest.mark.xdist_group("trained")
@pytest.mark.parametrize("trainer", ["yolo_fast", "yolo"])
def test_the_given_weights_are_generation_0_as_ultralytics_validates_them(trained, tmp_path, trainer):
    detector, _, _ = trained
    folder = tmp_path / "data"
    write_shapes_dataset(folder, labelled=60, unlabelled=40, test=48, n_classes=3, exponent=0.0, seed=3)
    ds = cs.run(
        [
            *own_data(folder, "generations=1", "replicates=1", "workers=1"),
            f"trainer={trainer}",
            "trainer.generation0=load",
            f"trainer.model={detector.weights}",
        ]
    ).isel(replicate=0, generation=0)
    assert ds.map50 > 0.2, "the weights should detect something, so agreeing means something"
    assert_scores_match_ultralytics_val(ds, detector, folder / "data.yaml", "test", tmp_path)


@pytest.mark.xdist_group("trained")
def test_the_audit_estimates_the_labeller_s_recall_on_the_unlabelled_pool(trained, tmp_path):
    """The audit images are a random share of the labelled images, so their labels' recall estimates the
    labeller's recall on the unlabelled images, whose truth the export keeps aside: the two agree within
    the 95 % interval of their difference (each a ratio over images, its variance by the delta method:
    objects in one image are not independent)."""
    from collapse_sim.generators.pseudo_label import PseudoLabelGenerator
    from collapse_sim.metrics.detection_data import DetectionDataMetrics
    from collapse_sim.scenes.dataset import DetectionSet
    from collapse_sim.sources.yolo_dataset import YOLODatasetSource, read_labels

    detector, seen, _ = trained
    folder = tmp_path / "data"
    # The detector's world (seed 0), whose first 96 images it trained on: they go, so the audit and the
    # pool are alike unseen.
    write_shapes_dataset(folder, labelled=576, unlabelled=480, test=4, n_classes=3, exponent=0.0, seed=0)
    for index in range(len(seen.train)):
        (folder / "images" / "train" / f"{index:05d}.png").unlink()
    source = YOLODatasetSource(
        data=str(folder / "data.yaml"), unlabelled=str(folder / "unlabelled"), image_size=64, audit_share=0.5
    )
    real = source.load(np.random.default_rng(0))
    assert len(real.train) == 240 and len(real.unlabelled) == 720 and real.unlabelled.truth_known.sum() == 240
    labeller = PseudoLabelGenerator(n=len(real.unlabelled), conf=0.02)  # its confidences are low
    labelled = labeller.generate(detector, real.train, 1, np.random.default_rng(1), real=real)
    audit = DetectionDataMetrics().measure(None, labelled, real)
    # The truth of the unlabelled images, which a user's own data would not have.
    hidden = sorted((folder / "unlabelled").glob("*.png"))
    truth = [read_labels(folder / "truth" / "unlabelled" / f"{p.stem}.txt", 3) for p in hidden]
    images = real.unlabelled.images[~real.unlabelled.truth_known]
    predicted = [p[:, :5] for p in detector.predict(images, conf=0.02, iou=0.7, max_det=100)]
    actual = DetectionSet.made_by(1, images, predicted, truth, SHAPES3)
    audited = labelled.take(np.flatnonzero(labelled.truth_known))
    (estimate, _, high), (value, _, value_high) = recall_interval(audited), recall_interval(actual)
    np.testing.assert_allclose(estimate, audit.label_recall_by_class.values)  # what the run records
    assert 0.1 < value.min() and value.max() < 0.95, "a labeller that misses some but not all"
    spread = np.hypot(high - estimate, value_high - value)  # 1.96 SE of the difference
    assert (np.abs(estimate - value) < spread).all(), (estimate, value, spread)


def recall_interval(data, z: float = 1.96) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class: recall over ``data``'s images and its interval, by the delta method for a ratio of sums
    over images (hits / true objects)."""
    from collapse_sim.scenes.quality import matched_classes

    hits = np.array(
        [
            np.bincount(matched_classes(lab, tru), minlength=3)
            for lab, tru in zip(data.labels, data.truth, strict=True)
        ]
    )
    true = np.array([np.bincount(tru[:, 0].astype(int), minlength=3) for tru in data.truth])
    ratio = hits.sum(0) / true.sum(0)
    n = len(true)
    se = np.sqrt(n / (n - 1) * ((hits - ratio * true) ** 2).sum(0)) / true.sum(0)
    return ratio, ratio - z * se, ratio + z * se


def test_without_audit_images_label_quality_is_nan_and_says_why(exported):
    ds = cs.run(own_data(exported, "source.audit_share=0", "replicates=1", "workers=1", "generations=2"))
    later = ds.isel(replicate=0, generation=1)
    assert np.isnan(later.label_recall) and np.isnan(later.label_precision_by_class).all()
    assert "NaN with source.audit_share=0" in ds.label_recall.attrs["description"]


@pytest.mark.slow
def test_the_experiment_at_debug_size_states_its_warning_and_resumes_to_the_same_values(
    exported, tmp_path, app_cli
):
    args = [*own_data(exported, "replicates=1", "plots=false"), "store_flush_s=0"]
    whole = app_cli(*args, f"hydra.run.dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr
    assert "warning: 1 chain gives no interval, so no fall of ap50_95 is stated" in whole.stdout
    given = exported / "best.pt"
    copied = tmp_path / "whole" / "chain_00" / "generations" / "000" / "weights.pt"
    assert copied.read_bytes() == given.read_bytes()  # generation 0 is the given detector, untouched
    ds = cs.open_run(tmp_path / "whole")
    assert float(ds.label_truth_by_class.isel(generation=slice(1, None)).sum()) > 0  # audit images drawn
    killed = tmp_path / "killed"
    assert kill_after(args, killed, 1, cwd=ROOT) in (1, 2)
    resumed = app_cli(*args, f"hydra.run.dir={killed}")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_results(ds, cs.open_run(killed))


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("source.unlabelled=/no/such/folder",), "source.unlabelled: /no/such/folder does not exist"),
        (("source.unlabelled={empty}",), "holds no images; put the unlabelled images there"),
        (("source.unlabelled={strays}",), "2 of its 3 files are not images ({strays}/notes.txt, "),
        (("trainer.model={others}",), "was trained on the classes ['cat', 'dog', 'bird'] but the data names"),
        (("trainer.model=yolo26n.yaml",), "trainer.generation0: load takes trained weights as generation 0"),
        (
            ("source.audit_share=0.99",),
            "source.audit_share: 0.99 of the 60 labelled training images leaves none",
        ),
        (("mixing=verified",), "source.unlabelled have none; for the human-labelled share of each round"),
        (
            ("generator.n=1000",),
            "generator.n: asks to label 1000 real images per generation but the unlabelled pool holds",
        ),
        (("trainer.model={junk}",), "trainer.model: {junk} cannot be read as an Ultralytics checkpoint"),
        (("n_samples=50",), "the train split of {data} has 60 labelled images, 15 of them held out to audit"),
    ],
)
def test_a_bad_input_is_one_paragraph_before_any_work(exported, tmp_path, monkeypatch, capsys, change, says):
    (tmp_path / "empty").mkdir()
    strays = tmp_path / "strays"
    strays.mkdir()
    shutil.copy(exported / "unlabelled" / "00000.png", strays / "a.png")
    (strays / "notes.txt").write_text("not an image")
    (strays / "broken.png").write_bytes(b"not a png either")
    others = named_checkpoint(tmp_path / "others.pt", ("cat", "dog", "bird"))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    fill = dict(
        empty=tmp_path / "empty", strays=strays, others=others, data=exported / "data.yaml", junk=junk
    )
    args = [*own_data(exported), *(c.format(**fill) for c in change), f"hydra.run.dir={tmp_path / 'run'}"]
    message = refused_in_process(args, monkeypatch, capsys)
    assert says.format(**fill) in message
    assert not (tmp_path / "run").exists()
