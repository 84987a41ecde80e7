"""Write a generation's training set as an Ultralytics dataset folder (PNG images, YOLO labels)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from collapse_sim.scenes.dataset import DetectionSet


def _write_split(folder: Path, split: str, images: np.ndarray, labels) -> None:
    (folder / "images" / split).mkdir(parents=True)
    (folder / "labels" / split).mkdir(parents=True)
    for i, (image, objects) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(image).save(folder / "images" / split / f"{i:05d}.png", compress_level=1)
        lines = [f"{int(c)} {x:.6f} {y:.6f} {w:.6f} {h:.6f}" for c, x, y, w, h in objects]
        (folder / "labels" / split / f"{i:05d}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))


def write_dataset(folder: Path, data: DetectionSet, *, val_images: int) -> Path:
    """Write ``data`` to ``folder`` (replacing a partial earlier attempt); returns its ``data.yaml``.

    Ultralytics insists on a validation split; the first ``val_images``
    training images serve, so the real test set never influences training.
    """
    folder = Path(folder)
    if folder.exists():  # left by an interrupted run: rewrite, so a resumed run trains on the same bytes
        shutil.rmtree(folder)
    _write_split(folder, "train", data.images, data.labels)
    k = max(1, min(val_images, len(data)))
    _write_split(folder, "val", data.images[:k], data.labels[:k])
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
