"""What the training images' objects look like: sharpness, colour shift, KID and recognisability.

Every labelled object of the generation's training images is cropped to a
``crop_size`` sprite (``scenes.sprites``) and compared with the crops of the
fixed real test set. KID uses torchmetrics' ``KernelInceptionDistance`` fed by a
feature extractor built in the run, not Inception (nothing is downloaded, and
Inception's ImageNet features know nothing of these shapes): a small CNN
trained once on the real training pool's crops to tell the classes apart, then
frozen. It is trained from a fixed seed on the same real pool in every chain,
so every chain and generation is scored by the same network; its accuracy on a
generation's crops is ``recognisability``, which falls as shapes melt.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from scipy import linalg, ndimage

from collapse_sim.components import Metric, RealData, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.metrics import NON_NEGATIVE, SHARE, measured, variable
from collapse_sim.scenes.dataset import DetectionSet
from collapse_sim.scenes.sprites import object_crops

CLASSIFIER_SEED = 0  # the same frozen feature extractor for every chain and generation
KID_SUBSETS = 50


def _grey(crops: np.ndarray) -> np.ndarray:
    return crops[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def sharpness(crops: np.ndarray) -> np.ndarray:
    """Variance of the Laplacian of each crop's grey levels (0-255 scale): blur lowers it."""
    grey = _grey(crops) * 255
    return np.array([ndimage.laplace(g).var() for g in grey])


def object_colours(crops: np.ndarray) -> np.ndarray:
    """Each crop's mean colour over its object pixels (alpha-weighted), RGB levels."""
    alpha = crops[..., 3:] + 1e-6
    return (crops[..., :3] * alpha).sum((1, 2)) / alpha.sum((1, 2)) * 255


def colour_distance(a: np.ndarray, b: np.ndarray) -> float:
    """2-Wasserstein distance between Gaussian fits of two colour sets (RGB levels)."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a.T) + np.eye(3) * 1e-6, np.cov(b.T) + np.eye(3) * 1e-6
    root = linalg.sqrtm(linalg.sqrtm(cov_b) @ cov_a @ linalg.sqrtm(cov_b)).real
    squared = ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root)
    return float(np.sqrt(max(squared, 0.0)))


class CropClassifier:
    """A small CNN that tells the classes' crops apart; ``body`` (its last hidden layer) feeds KID."""

    def __init__(self, crops: np.ndarray, classes: np.ndarray, n_classes: int, epochs: int = 20) -> None:
        import torch
        from torch import nn

        with torch.random.fork_rng():
            torch.manual_seed(CLASSIFIER_SEED)
            self.body = nn.Sequential(
                nn.Conv2d(3, 32, 3, padding=1),
                nn.SiLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, padding=1),
                nn.SiLU(),
                nn.AdaptiveAvgPool2d(2),
                nn.Flatten(),
                nn.Linear(256, 64),
                nn.SiLU(),
            )
            self.head = nn.Linear(64, n_classes)
            network = nn.Sequential(self.body, self.head)
            optimiser = torch.optim.Adam(network.parameters(), lr=2e-3)
            x, y = self._tensor(crops), torch.as_tensor(classes, dtype=torch.long)
            for _ in range(epochs):
                order = torch.randperm(len(x))
                for start in range(0, len(x), 64):
                    chosen = order[start : start + 64]
                    loss = nn.functional.cross_entropy(network(x[chosen]), y[chosen])
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
        self.body.eval().requires_grad_(False)
        self.head.eval().requires_grad_(False)

    @staticmethod
    def _tensor(crops: np.ndarray):
        import torch

        return torch.as_tensor(np.ascontiguousarray(crops[..., :3].transpose(0, 3, 1, 2)))

    def accuracy(self, crops: np.ndarray, classes: np.ndarray) -> float:
        """Share of crops whose class the frozen classifier names."""
        import torch

        with torch.no_grad():
            predicted = self.head(self.body(self._tensor(crops))).argmax(1).numpy()
        return float((predicted == classes).mean())

    def kid(self, crops: np.ndarray, reference: np.ndarray) -> float:
        """Kernel inception distance between the crops' features and the reference crops' (torchmetrics)."""
        import torch
        from torchmetrics.image.kid import KernelInceptionDistance

        subset = min(200, len(crops), len(reference))
        with warnings.catch_warnings():  # "will save all extracted features": a few hundred, by design
            warnings.simplefilter("ignore", UserWarning)
            metric = KernelInceptionDistance(feature=self.body, subsets=KID_SUBSETS, subset_size=subset)
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(CLASSIFIER_SEED)  # KID draws its subsets from torch's global generator
            metric.update(self._tensor(reference), real=True)
            metric.update(self._tensor(crops), real=False)
            return float(metric.compute()[0])


class ImageMetrics(Metric):
    """``sharpness`` (and ``_by_class``), ``colour_shift``, ``kid`` and ``recognisability`` of the
    training images' object crops against the real test set's."""

    needs = data_of("detection")

    def __init__(self, *, crop_size: int = 16, min_crops: int = 8) -> None:
        if not (isinstance(crop_size, int) and crop_size >= 8 and crop_size % 4 == 0):
            raise ConfigError("crop_size", f"must be a multiple of 4, at least 8, got {crop_size!r}")
        self.crop_size, self.min_crops = crop_size, min_crops
        self._reference: dict[str, tuple] = {}

    def reference(self, real: RealData) -> tuple[np.ndarray, CropClassifier]:
        """Crops of the real test set and the frozen classifier, built once per real world."""
        key = real.test.content_hash()
        if key not in self._reference:
            pool, pool_classes = object_crops(real.train, self.crop_size)
            test, _ = object_crops(real.test, self.crop_size)
            self._reference[key] = (test, CropClassifier(pool, pool_classes, len(real.train.names)))
        return self._reference[key]

    def measure(self, model, data: DetectionSet, real: RealData) -> xr.Dataset:
        """Score the object crops of ``data`` (the generation's training images)."""
        reference, classifier = self.reference(real)
        crops, classes = object_crops(data, self.crop_size)
        k = len(data.names)
        enough = len(crops) >= self.min_crops
        per_crop = sharpness(crops) if len(crops) else np.zeros(0)
        by_class = np.array(
            [per_crop[classes == c].mean() if (classes == c).any() else np.nan for c in range(k)]
        )
        nan = float("nan")
        values = {
            "sharpness": variable(
                (),
                float(per_crop.mean()) if enough else nan,
                units="grey levels^2",
                description="variance of the Laplacian of the training objects' crops (blur lowers it)",
                valid=NON_NEGATIVE,
                key=4,
            ),
            "sharpness_by_class": variable(
                ("class",),
                by_class,
                units="grey levels^2",
                description="variance of the Laplacian of each class's training crops",
                valid=NON_NEGATIVE,
            ),
            "colour_shift": variable(
                (),
                colour_distance(object_colours(crops), object_colours(reference)) if enough else nan,
                units="RGB levels",
                description="2-Wasserstein distance of object colours to the real test set's",
                valid=NON_NEGATIVE,
                key=5,
            ),
            "kid": variable(
                (),
                classifier.kid(crops, reference) if enough else nan,
                units="1",
                description="kernel inception distance of the training crops to the real test crops "
                "(frozen class CNN)",
                key=3,
            ),
            "recognisability": variable(
                (),
                classifier.accuracy(crops, classes) if enough else nan,
                units="1",
                description="share of training crops the frozen real-data classifier names correctly",
                valid=SHARE,
                key=6,
            ),
        }
        return measured(
            values,
            coords={"class": np.array(data.names, dtype=object)},
        )
