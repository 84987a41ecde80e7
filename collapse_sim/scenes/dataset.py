"""Labelled images with provenance: the detection family's sample set.

Images are one ``(N, S, S, 3)`` uint8 RGB array; labels are one ``(k, 5)``
array per image (class, cx, cy, w, h, normalised to [0, 1], the YOLO format).
``truth`` holds what is really in each image, so model-made labels can be
checked; ``origin`` is ``(1, N)`` like every sample set (-1 = real labels).
``known`` marks the images whose truth is known: an image from a user's
unlabelled folder has none (its ``truth`` is empty and says nothing).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from collapse_sim.samples import REAL, OneChain


def empty_labels() -> np.ndarray:
    """The label array of an image without objects."""
    return np.zeros((0, 5), dtype=np.float32)


def box_sizes(objects: np.ndarray) -> np.ndarray:
    """Object size as the geometric mean side, a fraction of the image side."""
    return np.sqrt(np.clip(objects[:, 3] * objects[:, 4], 0, None))  # degenerate predicted boxes: size 0


@dataclass(frozen=True)
class DetectionSet(OneChain):
    """Images, their labels, their true objects, and where each label set came from."""

    unit = "images"

    images: np.ndarray
    labels: tuple[np.ndarray, ...]
    truth: tuple[np.ndarray, ...]
    origin: np.ndarray
    names: tuple[str, ...]
    known: np.ndarray | None = None  # None: every image's truth is known

    def __post_init__(self) -> None:
        n = len(self.images)
        if not (len(self.labels) == len(self.truth) == n and self.origin.shape == (1, n)):
            raise ValueError(
                f"{n} images but {len(self.labels)} label sets, {len(self.truth)} truth sets "
                f"and origin of shape {self.origin.shape}"
            )
        if self.known is not None and self.known.shape != (n,):
            raise ValueError(f"{n} images but a known-truth mask of shape {self.known.shape}")

    @property
    def truth_known(self) -> np.ndarray:
        """Per image: True where its true objects are known (rendered, labelled or audited images)."""
        return np.ones(len(self), dtype=bool) if self.known is None else self.known

    @classmethod
    def unlabelled(cls, images: np.ndarray, names) -> DetectionSet:
        """Real images nobody has labelled: no labels, and truth unknown."""
        empty = tuple(empty_labels() for _ in range(len(images)))
        origin = np.full((1, len(images)), REAL, dtype=np.int32)
        return cls(images, empty, empty, origin, tuple(names), np.zeros(len(images), dtype=bool))

    @classmethod
    def real(cls, images: np.ndarray, labels, names) -> DetectionSet:
        """Real images with their human (true) labels."""
        labels = tuple(np.asarray(lab, dtype=np.float32).reshape(-1, 5) for lab in labels)
        return cls(images, labels, labels, np.full((1, len(images)), REAL, dtype=np.int32), tuple(names))

    @classmethod
    def made_by(
        cls, generation: int, images: np.ndarray, labels, truth, names, known: np.ndarray | None = None
    ) -> DetectionSet:
        """Images or labels produced by the model of ``generation`` (``known``: as for the images)."""
        labels = tuple(np.asarray(lab, dtype=np.float32).reshape(-1, 5) for lab in labels)
        truth = tuple(np.asarray(t, dtype=np.float32).reshape(-1, 5) for t in truth)
        origin = np.full((1, len(images)), generation, dtype=np.int32)
        return cls(images, labels, truth, origin, tuple(names), known)

    @property
    def image_size(self) -> int:
        """Side length of the (square) images in pixels."""
        return int(self.images.shape[1])

    def __len__(self) -> int:
        return len(self.images)

    def take(self, index) -> DetectionSet:
        """The images at ``index`` (1-d), in that order."""
        index = np.asarray(index, dtype=int).reshape(-1)
        return DetectionSet(
            self.images[index],
            tuple(self.labels[i] for i in index),
            tuple(self.truth[i] for i in index),
            self.origin[:, index],
            self.names,
            None if self.known is None else self.known[index],
        )

    @staticmethod
    def concat(parts: list[DetectionSet]) -> DetectionSet:
        """Join sets of the same image size and class names."""
        parts = [p for p in parts if len(p)] or parts[:1]
        return DetectionSet(
            np.concatenate([p.images for p in parts]),
            sum((p.labels for p in parts), ()),
            sum((p.truth for p in parts), ()),
            np.concatenate([p.origin for p in parts], axis=1),
            parts[0].names,
            None if all(p.known is None for p in parts) else np.concatenate([p.truth_known for p in parts]),
        )

    def objects(self, *, truth: bool = False) -> np.ndarray:
        """All labels (or true objects) stacked, ``(total, 5)``."""
        sets = self.truth if truth else self.labels
        return np.concatenate(sets) if sets else np.zeros((0, 5), np.float32)

    def class_counts(self, *, truth: bool = False) -> np.ndarray:
        """Objects per class in the labels (or the truth)."""
        cls = self.objects(truth=truth)[:, 0].astype(int)
        return np.bincount(cls, minlength=len(self.names)).astype(float)

    def content_hash(self) -> str:
        """A short hash of the images and labels: the version of this training set."""
        digest = hashlib.sha256(np.ascontiguousarray(self.images).tobytes())
        for lab in self.labels:
            digest.update(np.ascontiguousarray(lab, dtype=np.float32).tobytes() + b"|")
        digest.update("\n".join(self.names).encode())
        return digest.hexdigest()[:16]
