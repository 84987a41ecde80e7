"""Real labelled images, offline: scikit-learn's handwritten digits, or a folder of MNIST-format files.

Both keep a fixed real test set that no generation trains on and a training
split; ``pool_size`` images of the training split (a random subset fixed by
the seed, the same for every chain) are the real data a run has, and the
``fresh`` mixing policy draws new real images from the whole training split.
``class_exponent`` e > 0 first thins the classes to a long tail, class of rank
r (its place in label order: 0 is rank 1) kept in proportion to r^-e, so rare
classes exist; 0 keeps the classes as given. Pixels are scaled to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import RealData, Source, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.images.data import ImageSet
from collapse_sim.images.idx import read_mnist_folder


@dataclass(frozen=True)
class ImageTruth:
    """What the metrics compare against: the class names and the real training split's class shares."""

    names: tuple[str, ...]
    class_share: np.ndarray  # of the training split, after class_exponent
    size: tuple[int, int]
    train_size: int  # images in the training split (what the fresh mixing policy draws from)


def long_tail(labels: np.ndarray, n_classes: int, exponent: float) -> np.ndarray:
    """Positions to keep so class of rank r (label r - 1) holds a share proportional to r^-exponent,
    keeping as many images as the classes allow (the first of each class, in order)."""
    if exponent == 0:
        return np.arange(len(labels))
    weights = np.arange(1, n_classes + 1, dtype=float) ** -exponent
    available = np.bincount(labels, minlength=n_classes)
    present = available > 0
    scale = np.min(available[present] / weights[present])  # the class that runs out first sets the scale
    keep = np.floor(scale * weights + 1e-9).astype(int)
    return np.sort(np.concatenate([np.flatnonzero(labels == c)[: keep[c]] for c in range(n_classes)]))


class ImageSource(Source):
    """A training split and a fixed test set of labelled images in [0, 1]."""

    provides = data_of("image")

    def __init__(
        self,
        train: tuple[np.ndarray, np.ndarray],
        test: tuple[np.ndarray, np.ndarray],
        *,
        levels: float,
        pool_size: int | None,
        class_exponent: float,
        what: str,
        test_size: int | None = None,
    ) -> None:
        if not (isinstance(class_exponent, (int, float)) and class_exponent >= 0):
            raise ConfigError(
                "class_exponent",
                f"must be a number >= 0 (0: the classes as given; 1: class r kept in proportion to 1/r), "
                f"got {class_exponent!r}",
            )
        n_classes = int(max(train[1].max(), test[1].max())) + 1

        def thinned(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            keep = long_tail(np.asarray(labels, dtype=int), n_classes, class_exponent)
            return images[keep], labels[keep]

        (train_x, train_y), (test_x, test_y) = thinned(*train), thinned(*test)
        if test_size is not None:  # the first test_size of the thinned test images
            if test_size > len(test_y):
                raise ConfigError(
                    "test_size", f"asks for {test_size} test images but {what} gives {len(test_y)}; lower it"
                )
            test_x, test_y = test_x[:test_size], test_y[:test_size]
        self.levels = float(levels)
        self.train_images, self.train_labels = train_x, train_y.astype(np.int32)
        self.test = ImageSet.real(test_x / self.levels, test_y)
        self.test_size = len(self.test)
        self.sample_bytes = 4 * int(np.prod(train_x.shape[1:]))
        self.pool_size = len(train_y) if pool_size is None else positive_int("pool_size", pool_size)
        if self.pool_size > len(train_y):
            raise ConfigError(
                "pool_size",
                f"asks for {self.pool_size} real images but {what} gives {len(train_y)} for training"
                + (f" after class_exponent={class_exponent}" if class_exponent else "")
                + "; lower it (or n_samples), or null for all of them",
            )
        counts = np.bincount(train_y, minlength=n_classes)
        self.truth = ImageTruth(
            tuple(str(c) for c in range(n_classes)),
            counts / counts.sum(),
            tuple(int(s) for s in train_x.shape[1:]),
            len(train_y),
        )

    def _images(self, index: np.ndarray) -> ImageSet:
        return ImageSet.real(self.train_images[index] / self.levels, self.train_labels[index])

    def load(self, rng: np.random.Generator) -> RealData:
        """``pool_size`` training images, the fixed test set, and the class names and shares."""
        pool = self._images(np.sort(rng.permutation(len(self.train_labels))[: self.pool_size]))

        def draw(n: int, draw_rng: np.random.Generator) -> ImageSet:
            # New real images: from the whole training split, not only the pool.
            return self._images(draw_rng.permutation(len(self.train_labels))[:n])

        return RealData(pool, self.test, self.truth, draw)


def _split(images: np.ndarray, labels: np.ndarray, test_size: int, what: str):
    """A fixed split (the same for every run and seed) into training images and ``test_size`` test images."""
    if not 0 < test_size < len(labels):
        raise ConfigError(
            "test_size",
            f"must be between 1 and {len(labels) - 1} ({what} holds {len(labels)} images), got {test_size}",
        )
    order = np.random.default_rng(0).permutation(len(labels))
    test, train = np.sort(order[:test_size]), np.sort(order[test_size:])
    return (images[train], labels[train]), (images[test], labels[test])


class DigitsSource(ImageSource):
    """scikit-learn's 1,797 handwritten digits (8x8 pixels, 17 grey levels, ten classes), inside its wheel."""

    def __init__(self, *, test_size: int = 500, pool_size: int | None = None, class_exponent: float = 0.0):
        from sklearn.datasets import load_digits

        digits = load_digits()
        what = "scikit-learn's digits"
        test_size = positive_int("test_size", test_size)
        train, test = _split(digits.images.astype(np.float32), digits.target, test_size, what)
        super().__init__(
            train, test, levels=16.0, pool_size=pool_size, class_exponent=class_exponent, what=what
        )


class MnistFilesSource(ImageSource):
    """A folder of the four MNIST-format idx files (MNIST, Fashion-MNIST, ...), gzipped or not.

    The training files give the training split; the first ``test_size`` images
    of the test files (after ``class_exponent``) the fixed test set. ``downsample``
    f > 1 averages each f x f block of pixels (28 x 28 to 14 x 14 at 2), for
    models that must fit a small machine.
    """

    def __init__(
        self,
        *,
        path: str,
        test_size: int = 1000,
        pool_size: int | None = None,
        class_exponent: float = 0.0,
        downsample: int = 1,
    ) -> None:
        arrays = read_mnist_folder(Path(str(path)), "path")
        factor = positive_int("downsample", downsample)
        side = arrays["train_images"].shape[1:]
        if any(length % factor for length in side):
            raise ConfigError(
                "downsample",
                f"is {factor} but the images of {path} are {side[0]} x {side[1]} pixels; choose a factor "
                f"that divides both (1 keeps them as they are)",
            )

        def shrunk(images: np.ndarray) -> np.ndarray:
            if factor == 1:
                return images
            n, height, width = images.shape
            blocks = images.reshape(n, height // factor, factor, width // factor, factor)
            return blocks.mean(axis=(2, 4), dtype=np.float32)

        super().__init__(
            (shrunk(arrays["train_images"]), arrays["train_labels"].astype(int)),
            (shrunk(arrays["test_images"]), arrays["test_labels"].astype(int)),
            levels=255.0,
            pool_size=pool_size,
            class_exponent=class_exponent,
            what=str(path),
            test_size=positive_int("test_size", test_size),
        )
