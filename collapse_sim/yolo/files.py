"""Write a generation's training set as an Ultralytics dataset folder (PNG images, YOLO labels)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from collapse_sim.scenes.dataset import DetectionSet


def write_split(
    folder: Path, split: str, images: np.ndarray, labels, *, images_to: str = "", labels_to: str = ""
) -> None:
    """PNG images in ``folder/images/<split>`` and YOLO label files in ``folder/labels/<split>`` (or the
    folders ``images_to`` and ``labels_to`` under ``folder``)."""
    image_folder = folder / (images_to or f"images/{split}")
    label_folder = folder / (labels_to or f"labels/{split}")
    image_folder.mkdir(parents=True)
    label_folder.mkdir(parents=True)
    for i, (image, objects) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(image).save(image_folder / f"{i:05d}.png", compress_level=1)
        lines = [f"{int(c)} {x:.6f} {y:.6f} {w:.6f} {h:.6f}" for c, x, y, w, h in objects]
        (label_folder / f"{i:05d}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))


def write_dataset(folder: Path, data: DetectionSet, *, val_images: int) -> Path:
    """Write ``data`` to ``folder`` (replacing a partial earlier attempt); returns its ``data.yaml``.

    Ultralytics insists on a validation split; the first ``val_images``
    training images serve, so the real test set never influences training.
    """
    folder = Path(folder)
    if folder.exists():  # left by an interrupted run: rewrite, so a resumed run trains on the same bytes
        shutil.rmtree(folder)
    write_split(folder, "train", data.images, data.labels)
    k = max(1, min(val_images, len(data)))
    write_split(folder, "val", data.images[:k], data.labels[:k])
    spec = {
        "path": str(folder.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(data.names)),
        "version": data.content_hash(),
    }
    path = folder / "data.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path
