"""``collapse-sim-export FOLDER`` (``python -m collapse_sim.export``): the shapes world as an Ultralytics
dataset on disk, to try the self-training audit offline exactly as one's own data would be used.

The folder gets ``data.yaml`` with labelled ``train`` and ``test`` splits
(``images/`` and ``labels/``, YOLO format), ``unlabelled/`` (images only) and
``truth/unlabelled/`` (what is really in those images, which one's own data
would not have: it lets the audit's estimates be checked). With ``--train``
the stock Ultralytics trainer fits a detector on the labelled split and
writes ``best.pt``, as a user's own pipeline would.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import yaml

from collapse_sim.errors import ConfigError, exit_with


def write_shapes_dataset(
    folder: Path,
    *,
    labelled: int,
    unlabelled: int,
    test: int,
    n_classes: int = 8,
    exponent: float = 1.0,
    image_size: int = 64,
    seed: int = 0,
) -> Path:
    """Render the shapes world and write it to ``folder`` (which must not hold anything); its data.yaml."""
    from collapse_sim.sources.shapes import ShapesSource
    from collapse_sim.yolo.files import write_split

    source = ShapesSource(
        pool_size=labelled + unlabelled,
        test_size=test,
        n_classes=n_classes,
        exponent=exponent,
        image_size=image_size,
    )
    real = source.load(np.random.default_rng(seed))
    folder.mkdir(parents=True, exist_ok=True)
    train, pool = real.train.take(range(labelled)), real.train.take(range(labelled, labelled + unlabelled))
    write_split(folder, "train", train.images, train.labels)
    write_split(folder, "test", real.test.images, real.test.labels)
    write_split(
        folder, "unlabelled", pool.images, pool.truth, images_to="unlabelled", labels_to="truth/unlabelled"
    )
    spec = {
        "path": str(folder.resolve()),
        "train": "images/train",
        "val": "images/test",
        "test": "images/test",
        "names": dict(enumerate(real.train.names)),
    }
    path = folder / "data.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def train_detector(folder: Path, data_yaml: Path, *, epochs: int, device: str, seed: int) -> Path:
    """Fit a detector on the labelled split with the stock Ultralytics trainer; ``folder/best.pt``."""
    from collapse_sim.components import RunContext
    from collapse_sim.sources.yolo_dataset import YOLODatasetSource
    from collapse_sim.trainers.yolo import YOLOTrainer
    from collapse_sim.yolo.network import given_weights

    source = YOLODatasetSource(data=str(data_yaml), image_size=64)
    real = source.load(np.random.default_rng(seed))
    trainer = YOLOTrainer(epochs=epochs, device=device, imgsz=64)
    trainer.setup(RunContext(folder.resolve() / "training", 0))
    detector = trainer.fit(real.train, init=None, rng=np.random.default_rng(seed), generation=0)
    best = given_weights(str(detector.weights), folder / "best.pt")  # written atomically, as a chain's copy
    shutil.rmtree(folder / "training")  # its copy of the images and the Ultralytics run: not needed
    return best


def main(argv: list[str] | None = None) -> None:
    """``collapse-sim-export FOLDER [--train]``: write the shapes world as an Ultralytics dataset."""
    parser = argparse.ArgumentParser(
        prog="collapse-sim-export",
        description="Write the shapes world as an Ultralytics dataset: data.yaml, labelled train and test "
        "splits, an unlabelled/ folder; with --train, a detector trained on it by the stock Ultralytics "
        "trainer (best.pt).",
    )
    parser.add_argument("folder", metavar="FOLDER", help="a new (or empty) folder")
    parser.add_argument("--labelled", type=int, default=400, help="labelled training images (400)")
    parser.add_argument("--unlabelled", type=int, default=800, help="unlabelled images (800)")
    parser.add_argument("--test", type=int, default=300, help="labelled test images (300)")
    parser.add_argument("--classes", type=int, default=8, help="shape classes, commonest first (8)")
    parser.add_argument("--exponent", type=float, default=1.0, help="Zipf exponent of class shares (1.0)")
    parser.add_argument("--seed", type=int, default=0, help="the world and its images (0)")
    parser.add_argument("--train", action="store_true", help="also train best.pt with the stock trainer")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of that training (30)")
    parser.add_argument("--device", default="auto", help="its device: auto, cpu, cuda (auto)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    folder = Path(args.folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        exit_with(
            f"{folder} already exists and is not an empty folder; give a new folder (nothing was written)"
        )
    for name in ("labelled", "unlabelled", "test", "epochs"):
        if getattr(args, name) < 1:
            exit_with(f"--{name} must be at least 1, got {getattr(args, name)}")
    try:
        data_yaml = write_shapes_dataset(
            folder,
            labelled=args.labelled,
            unlabelled=args.unlabelled,
            test=args.test,
            n_classes=args.classes,
            exponent=args.exponent,
            seed=args.seed,
        )
        print(f"dataset: {data_yaml}")
        print(f"unlabelled: {folder / 'unlabelled'}")
        if args.train:
            weights = train_detector(
                folder, data_yaml, epochs=args.epochs, device=args.device, seed=args.seed
            )
            print(f"weights: {weights}")
    except ConfigError as error:
        exit_with(str(error))


if __name__ == "__main__":
    main()
