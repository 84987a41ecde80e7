"""Real detection data from any Ultralytics ``data.yaml`` on disk (a local coco8/coco128, your own).

Everything is checked when the source is built, before any training: a bad
file stops the run with its path and what is wrong.  The ``train`` split is
the real pool; ``test`` (or, without one, ``val``) is the fixed test set.
Images are resized to ``image_size`` squares; YOLO labels are normalised, so
they stay valid.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, UnidentifiedImageError

from collapse_sim.checks import positive_int
from collapse_sim.components import RealData, Source, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.scenes.dataset import DetectionSet, empty_labels
from collapse_sim.sources.shapes import DetectionTruth
from collapse_sim.sources.unlabelled import IMAGE_SUFFIXES, audit_count, split_audit, unlabelled_images

KEY = "data"  # reported as source.data


def _fail(message: str) -> ConfigError:
    return ConfigError(KEY, message)


def read_spec(data: str) -> tuple[Path, dict, list[str]]:
    """The dataset root, the parsed ``data.yaml`` and the class names."""
    path = Path(data).expanduser()
    if not path.is_file():
        raise _fail(f"{path} does not exist; give the path of an Ultralytics data.yaml on this machine")
    try:
        spec = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as error:
        raise _fail(f"{path} is not readable YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(spec, dict):
        raise _fail(f"{path} must be a mapping with train, val and names keys")
    names = spec.get("names")
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    if not isinstance(names, list) or not names:
        raise _fail(f"{path} has no 'names' (a list or an index-to-name mapping of the classes)")
    if "train" not in spec:
        raise _fail(f"{path} has no 'train' key (the folder of training images)")
    root = Path(spec.get("path") or path.parent).expanduser()
    return (root if root.is_absolute() else path.parent / root), spec, [str(n) for n in names]


def _label_path(image: Path) -> Path:
    parts = list(image.parts)
    index = len(parts) - 1 - parts[::-1].index("images") if "images" in parts else None
    if index is None:
        return image.with_suffix(".txt")
    parts[index] = "labels"
    return Path(*parts).with_suffix(".txt")


def read_labels(path: Path, n_classes: int) -> np.ndarray:
    """One label file (class cx cy w h per line), checked; a missing file means no objects."""
    if not path.exists():
        return empty_labels()
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:  # a folder, a dangling link, binary content, no permission
        raise _fail(f"{path} cannot be read as a text label file ({error})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            raise _fail(
                f"{path} line {number} has {len(fields)} fields; a detection label is 'class cx cy w h'"
            )
        try:
            cls, *box = float(fields[0]), *map(float, fields[1:])
        except ValueError:
            raise _fail(f"{path} line {number} is not numeric: {line.strip()!r}") from None
        if cls != int(cls) or not 0 <= cls < n_classes:
            raise _fail(
                f"{path} line {number} has class id {fields[0]}; valid ids are 0..{n_classes - 1} ('names')"
            )
        if not all(0.0 <= v <= 1.0 for v in box):
            raise _fail(f"{path} line {number} has coordinates outside [0, 1] (labels must be normalised)")
        rows.append([cls, *box])
    return np.array(rows, dtype=np.float32).reshape(-1, 5)


def _walk_images(folder: Path, key: str, source: Path) -> list[Path]:
    """Image files under ``folder``, following symbolic links but refusing a link that loops back."""
    seen, images = set(), []
    for here, _, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(here)
        if real in seen:
            raise _fail(
                f"{source}: {key} folder {folder} contains a symbolic-link loop at {here} (it leads back to "
                f"{real}); remove the link or point it at a folder outside {folder}"
            )
        seen.add(real)
        images += [Path(here) / f for f in files if Path(f).suffix.lower() in IMAGE_SUFFIXES]
    return sorted(images)


def _split_folder(root: Path, entry: str) -> Path:
    """Where one split entry points: absolute as given, relative to the root (as Ultralytics reads it)."""
    folder = Path(entry).expanduser()
    if folder.is_absolute():
        return folder
    resolved = Path(os.path.normpath(root / folder))
    if not resolved.exists() and entry.startswith("../"):  # Ultralytics' fallback for '../images/...'
        return Path(os.path.normpath(root / entry[3:]))
    return resolved


def _listed_images(listing: Path, key: str, source: Path) -> list[Path]:
    """Images named one per line in a ``.txt`` split file; ``./x`` and relative lines are beside the file."""
    try:
        lines = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(f"{source}: {key} list {listing} cannot be read ({error})") from None
    images = [Path(line) if Path(line).is_absolute() else listing.parent / line for line in lines]
    missing = next((p for p in images if not p.is_file()), None)
    if missing is not None:
        raise _fail(f"{source}: {key} list {listing} names {missing}, which does not exist")
    return images


def list_split(root: Path, spec: dict, key: str, source: Path) -> list[Path]:
    """Image files of one split: a folder, a ``.txt`` list of images, or a list of either.

    As in Ultralytics, an absolute entry may lie anywhere on disk and a relative
    one is read from the dataset root (``path``, else the data.yaml's folder).
    """
    entries = spec[key] if isinstance(spec[key], list) else [spec[key]]
    images: list[Path] = []
    for entry in entries:
        if not isinstance(entry, str) or not entry:
            raise _fail(f"{source}: {key} must be a folder, a .txt list of images, or a list of those")
        target = _split_folder(root, entry)
        if target.is_file() and target.suffix == ".txt":
            images += _listed_images(target, key, source)
        elif target.is_dir():
            images += _walk_images(target, key, source)
        else:
            raise _fail(
                f"{source}: {key} folder {target} does not exist (relative entries are read from the "
                f"dataset root {root}: 'path' in the data.yaml, else its folder)"
            )
    if not images:
        where = ", ".join(str(_split_folder(root, e)) for e in entries)
        raise _fail(f"{source}: {key} folder {where} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return images


def _image_error(path: Path) -> str | None:
    """Why ``path`` is not a readable image, or None when it is one."""
    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        return str(error)
    return None


def _check_image(path: Path) -> None:
    error = _image_error(path)
    if error is not None:
        raise _fail(f"{path} is not a readable image ({error})")


class YOLODatasetSource(Source):
    """Images and labels of a local Ultralytics dataset, checked up front.

    With ``unlabelled`` (a folder or ``.txt`` list of images without labels)
    the pool a pseudo-labeller labels is those images plus ``audit_share`` of
    the labelled training images, held out from training and mixed in
    unlabelled: the labels the detector gives them are checked against their
    human labels, which estimates the pseudo-labels' precision and recall.
    """

    provides = data_of("detection")

    def __init__(
        self, *, data: str, image_size: int = 128, unlabelled=None, audit_share: float = 0.1
    ) -> None:
        self.data = Path(data).expanduser()
        root, spec, self.names = read_spec(data)
        self.image_size = positive_int("image_size", image_size, minimum=32)
        test_key = "test" if spec.get("test") else "val"
        if test_key not in spec:
            raise _fail(f"{self.data} has neither 'val' nor 'test': the real test set must be separate")
        self.splits = {
            "train": list_split(root, spec, "train", self.data),
            "test": list_split(root, spec, test_key, self.data),
        }
        self.labels = {}
        for split, images in self.splits.items():
            for image in images:
                _check_image(image)
            self.labels[split] = [read_labels(_label_path(p), len(self.names)) for p in images]
        self.unlabelled = None
        self.audit = 0
        if unlabelled is not None:
            self.unlabelled = unlabelled_images(unlabelled, lambda p: _image_error(p) is None)
            self.audit = audit_count(audit_share, len(self.splits["train"]))
        self.pool_size = len(self.splits["train"]) - self.audit
        held = f", {self.audit} of them held out to audit the labeller (audit_share)" if self.audit else ""
        self.pool_hint = (
            f"the train split of {self.data} has {len(self.splits['train'])} labelled images{held}; "
            "lower n_samples"
        )
        self.test_size = len(self.splits["test"])
        self.unlabelled_size = len(self.unlabelled) + self.audit if self.unlabelled else 0
        self.n_classes = len(self.names)
        self.sample_bytes = self.image_size**2 * 3  # an RGB image at the training size

    def _images(self, paths: list[Path]) -> np.ndarray:
        size = (self.image_size, self.image_size)
        return np.stack(
            [np.asarray(Image.open(p).convert("RGB").resize(size, Image.BILINEAR)) for p in paths]
        )

    def _read(self, split: str) -> DetectionSet:
        return DetectionSet.real(self._images(self.splits[split]), self.labels[split], self.names)

    def load(self, rng: np.random.Generator) -> RealData:
        """The train split as the real pool (less the audit), the test (or val) split as the test set,
        and the unlabelled pool with the audit images in it."""
        labelled, test = self._read("train"), self._read("test")
        pool = None
        if self.unlabelled is None:
            train = labelled
        else:
            kept, audit = split_audit(self.audit, len(labelled), rng)
            train, audited = labelled.take(kept), labelled.take(audit)
            hidden = dataclasses.replace(audited, labels=tuple(empty_labels() for _ in audit))
            pool = DetectionSet.concat(
                [DetectionSet.unlabelled(self._images(self.unlabelled), self.names), hidden]
            )
        counts = train.class_counts()
        shares = counts / counts.sum() if counts.sum() else counts

        def draw(n: int, draw_rng: np.random.Generator) -> DetectionSet:
            return train.subsample(n, draw_rng)  # a dataset on disk has no new images: resample the pool

        return RealData(train, test, DetectionTruth(tuple(self.names), shares), draw, unlabelled=pool)
