"""Labelled greyscale images with provenance: the image family's sample set.

``images`` is ``(N, H, W)`` in [0, 1]; ``labels`` the class of each image (the
digit a real image shows, or the class a model was asked to draw); ``origin``
is ``(1, N)`` like every sample set (-1 = a real image).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from collapse_sim.samples import REAL, OneChain


def drawn_classes(shares: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """What an image model draws first: ``n`` classes in ``shares``, and a seed for its own noise."""
    return rng.choice(len(shares), size=n, p=shares).astype(np.int32), int(rng.integers(2**63))


@dataclass(frozen=True)
class ImageSet(OneChain):
    """Images, their labels, and where each came from (real, or the generation whose model drew it)."""

    unit = "images"

    images: np.ndarray
    labels: np.ndarray
    origin: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.ndim != 3 or self.labels.shape != (n,) or self.origin.shape != (1, n):
            raise ValueError(
                f"images {self.images.shape}, labels {self.labels.shape} and origin {self.origin.shape} "
                "do not describe the same (N, H, W) images"
            )

    @classmethod
    def real(cls, images: np.ndarray, labels: np.ndarray) -> ImageSet:
        """Real images of ``labels``."""
        return cls.made_by(REAL, images, labels)

    @classmethod
    def made_by(cls, generation: int, images: np.ndarray, labels: np.ndarray) -> ImageSet:
        """Images drawn by the model of ``generation`` (``REAL`` for real ones)."""
        labels = np.asarray(labels, dtype=np.int32)
        origin = np.full((1, len(labels)), generation, dtype=np.int32)
        return cls(np.asarray(images, dtype=np.float32), labels, origin)

    @property
    def size(self) -> tuple[int, int]:
        """Height and width of an image."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    def __len__(self) -> int:
        return len(self.images)

    def take(self, index) -> ImageSet:
        """The images at ``index`` (1-d), in that order."""
        index = np.asarray(index, dtype=int).reshape(-1)
        return ImageSet(self.images[index], self.labels[index], self.origin[:, index])

    @staticmethod
    def concat(parts: list[ImageSet]) -> ImageSet:
        """Join sets of images of the same size."""
        parts = [p for p in parts if len(p)] or parts[:1]
        return ImageSet(
            np.concatenate([p.images for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.concatenate([p.origin for p in parts], 1),
        )

    def class_shares(self, n_classes: int) -> np.ndarray:
        """The share of each class among the labels: the class prior a model trained on them learns."""
        counts = np.bincount(self.labels, minlength=n_classes).astype(float)
        return counts / counts.sum()

    def content_hash(self) -> str:
        """A short hash of the images and labels: the version of this training set."""
        digest = hashlib.sha256(np.ascontiguousarray(self.images, dtype=np.float32).tobytes())
        digest.update(np.ascontiguousarray(self.labels, dtype=np.int32).tobytes())
        return digest.hexdigest()[:16]
