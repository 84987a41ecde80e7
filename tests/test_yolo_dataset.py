"""A dataset on disk: checked before training, each bad file named with what would be valid."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from conftest import TINY_DETECTION, refused_in_process

import collapse_sim as cs
from collapse_sim.api import job as build_job
from collapse_sim.errors import ConfigError
from collapse_sim.sources.shapes import ShapesSource
from collapse_sim.sources.yolo_dataset import YOLODatasetSource
from collapse_sim.yolo.files import write_dataset


@pytest.fixture
def dataset(tmp_path):
    """A valid Ultralytics dataset folder: 30 training images, 12 validation images."""
    real = ShapesSource(pool_size=30, test_size=12).load(np.random.default_rng(0))
    data_yaml = write_dataset(tmp_path / "shapes", real.train, val_images=12)
    return data_yaml, real


def _label_file(data_yaml, index=0):
    return data_yaml.parent / "labels" / "train" / f"{index:05d}.txt"


def test_valid_dataset_loads_its_images_and_labels(dataset):
    data_yaml, real = dataset
    source = YOLODatasetSource(data=str(data_yaml), image_size=64)
    assert source.pool_size == 30 and source.names == list(real.train.names)
    loaded = source.load(np.random.default_rng(1))
    assert len(loaded.train) == 30 and len(loaded.test) == 12
    np.testing.assert_array_equal(loaded.train.images, real.train.images)  # PNG is lossless, same size
    for ours, theirs in zip(loaded.train.labels, real.train.labels, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert loaded.truth.law is None and np.isclose(loaded.truth.class_shares.sum(), 1.0)


def _break(data_yaml, case):
    root = data_yaml.parent
    if case == "missing_yaml":
        data_yaml.unlink()
    elif case == "missing_names":
        data_yaml.write_text(
            "\n".join(
                line
                for line in data_yaml.read_text().splitlines()
                if "names" not in line and not line.startswith("  ")
            )
        )
    elif case == "missing_folder":
        import shutil

        shutil.rmtree(root / "images" / "train")
    elif case == "empty_folder":
        for image in (root / "images" / "train").iterdir():
            image.unlink()
    elif case == "unreadable_image":
        (root / "images" / "train" / "00003.png").write_bytes(b"not a png at all")
    elif case == "field_count":
        _label_file(data_yaml).write_text("0 0.5 0.5 0.2\n")
    elif case == "outside":
        _label_file(data_yaml).write_text("0 0.5 1.2 0.2 0.2\n")
    elif case == "class_id":
        _label_file(data_yaml).write_text("9 0.5 0.5 0.2 0.2\n")
    elif case == "symlink_loop":
        (root / "images" / "train" / "again").symlink_to(root / "images")
    elif case == "split_elsewhere_is_empty":
        (root.parent / "elsewhere").mkdir()
        data_yaml.write_text(data_yaml.read_text().replace("train: images/train", "train: ../elsewhere"))
    elif case == "absolute_split_missing":
        data_yaml.write_text(data_yaml.read_text().replace("train: images/train", "train: /no/such/split"))
    elif case == "list_names_a_missing_image":
        (root / "train.txt").write_text("./images/train/00000.png\n./images/train/missing.png\n")
        data_yaml.write_text(data_yaml.read_text().replace("train: images/train", "train: train.txt"))
    elif case == "label_is_a_folder":
        _label_file(data_yaml).unlink()
        _label_file(data_yaml).mkdir()
    elif case == "label_is_binary":
        _label_file(data_yaml).write_bytes(bytes(range(128, 256)))
    elif case == "dangling_image_link":
        (root / "images" / "train" / "zz.png").symlink_to(root / "no_such_file.png")


BAD = {
    "missing_yaml": "does not exist; give the path of an Ultralytics data.yaml",
    "missing_names": "has no 'names' (a list or an index-to-name mapping of the classes)",
    "missing_folder": "train folder",
    "empty_folder": "holds no images (.bmp, .jpeg, .jpg, .png",
    "unreadable_image": "00003.png is not a readable image",
    "field_count": "00000.txt line 1 has 4 fields; a detection label is 'class cx cy w h'",
    "outside": "00000.txt line 1 has coordinates outside [0, 1] (labels must be normalised)",
    "class_id": "00000.txt line 1 has class id 9; valid ids are 0..7 ('names')",
    "symlink_loop": "contains a symbolic-link loop at",
    "split_elsewhere_is_empty": "elsewhere holds no images",
    "absolute_split_missing": "train folder /no/such/split does not exist",
    "list_names_a_missing_image": "train list",
    "label_is_a_folder": "00000.txt cannot be read as a text label file (",
    "label_is_binary": "00000.txt cannot be read as a text label file (",
    "dangling_image_link": "zz.png is not a readable image",
}


def test_absolute_splits_elsewhere_and_a_yaml_without_path_load(dataset, tmp_path):
    """Ultralytics accepts absolute split folders anywhere and yamls without ``path``; so do we."""
    data_yaml, real = dataset
    elsewhere = tmp_path / "elsewhere" / "dataset"
    elsewhere.parent.mkdir()
    data_yaml.parent.rename(elsewhere)
    spec = yaml.safe_load((elsewhere / "data.yaml").read_text())
    own = tmp_path / "mine" / "data.yaml"
    own.parent.mkdir()
    own.write_text(
        yaml.safe_dump(
            {
                "train": str(elsewhere / "images" / "train"),
                "val": [str(elsewhere / "images" / "val")],
                "names": spec["names"],
            }
        )
    )
    source = YOLODatasetSource(data=str(own), image_size=64)
    loaded = source.load(np.random.default_rng(1))
    assert source.pool_size == 30 and len(loaded.test) == 12
    np.testing.assert_array_equal(loaded.train.images, real.train.images)
    listing = own.parent / "train.txt"  # a .txt list of images, one per line, as Ultralytics reads it
    listing.write_text("".join(f"{p}\n" for p in sorted((elsewhere / "images" / "train").glob("*.png"))[:5]))
    own.write_text(own.read_text().replace(str(elsewhere / "images" / "train"), "train.txt"))
    assert YOLODatasetSource(data=str(own), image_size=64).pool_size == 5


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_dataset_is_refused_naming_the_file(dataset, case):
    data_yaml, _ = dataset
    _break(data_yaml, case)
    with pytest.raises(ConfigError) as error:
        YOLODatasetSource(data=str(data_yaml))
    assert error.value.key == "data" and BAD[case] in error.value.message
    if case == "missing_folder":
        assert "does not exist" in error.value.message


def test_bad_dataset_on_the_command_line_exits_cleanly(dataset, tmp_path, monkeypatch, capsys):
    data_yaml, _ = dataset
    _break(data_yaml, "class_id")
    args = ["source=yolo_dataset", f"source.data={data_yaml}", "generator=pseudo_label"]
    message = refused_in_process([*args, f"hydra.run.dir={tmp_path / 'run'}"], monkeypatch, capsys)
    assert message.startswith("collapse_sim: error: source.data:") and "class id 9" in message
    assert not (tmp_path / "run").exists()


def _build(*overrides):
    return build_job(list(overrides)).sim


def test_more_samples_than_the_pool_and_scene_model_are_refused(dataset):
    data_yaml, _ = dataset
    with pytest.raises(
        ConfigError, match="holds 30 real samples per replicate but generation 0 trains on n_samples=40"
    ):
        _build(
            "source=yolo_dataset",
            f"source.data={data_yaml}",
            "generator=pseudo_label",
            "n_samples=40",
            "generator.n=10",
        )
    with pytest.raises(
        ConfigError,
        match="generator=scene_model needs scene law, which source=yolo_dataset does not provide;"
        " options that provide it: source=shapes",
    ):
        _build("source=yolo_dataset", f"source.data={data_yaml}", "n_samples=20")


@pytest.mark.slow
def test_pseudo_labelling_a_dataset_on_disk_runs(dataset, tmp_path, app_cli):
    data_yaml, real = dataset
    result = app_cli(
        "source=yolo_dataset",
        f"source.data={data_yaml}",
        "source.image_size=64",
        "generator=pseudo_label",
        "generator.conf=0.001",
        "plots=false",
        *[o for o in TINY_DETECTION if not o.startswith("source.")],  # a dataset on disk has no test_size
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 0, result.stderr
    ds = cs.open_run(tmp_path / "run").isel(replicate=0)  # one chain
    assert ds.sizes["generation"] == 2 and float(ds.real_fraction[1]) == 0.0
    assert np.isfinite(ds.map50_95).all() and list(ds["class"].values) == list(real.train.names)
    # A one-epoch detector labelling at conf 0.001 makes mostly junk labels; real labels are exact.
    assert float(ds.label_precision[0]) == float(ds.label_recall[0]) == 1.0
    assert 0.0 <= float(ds.label_precision[1]) < 0.5
