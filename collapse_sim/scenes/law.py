"""A scene law: what objects appear in an image, how many, how big, where, in what colour.

The same law is the real world of the ``shapes`` source and the generative
model the ``scene_model`` generator refits each generation, so a refit that
loses a class, shrinks a spread or sharpens the class shares is visible as
exactly that.  An image holds ``Poisson(count_mean[c])`` objects of each class
c, independently, so every parameter is identifiable from labels and a
faithful refit (T = 1) is unbiased; images without objects are background.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from collapse_sim.scenes.dataset import empty_labels
from collapse_sim.scenes.render import background, box_colours, draw_scene, mask_colours

MIN_SIZE, MAX_SIZE = 0.15, 0.6  # box side limits, as a fraction of the image side
MAX_OVERLAP = 0.25  # objects overlapping more than this (IoU) are moved: labels stay visible
PLACEMENT_TRIES = 20  # positions tried before an object that fits nowhere is left out


@dataclass(frozen=True)
class SceneLaw:
    """Per-class attribute distributions, arrays indexed by class."""

    count_mean: np.ndarray  # (K,) objects of class c per image ~ Poisson(count_mean[c])
    log_size_mean: np.ndarray  # (K, 2) mean of log(w), log(h)
    log_size_cov: np.ndarray  # (K, 2, 2)
    position_mean: np.ndarray  # (K, 2) centre x, y
    position_std: np.ndarray  # (K, 2)
    colour_mean: np.ndarray  # (K, 3) RGB
    colour_std: np.ndarray  # (K, 3)
    shapes: tuple[str, ...]  # outline drawn for each class

    @property
    def class_shares(self) -> np.ndarray:
        """Expected share of each class among objects."""
        return self.count_mean / self.count_mean.sum()

    def sharpened(self, temperature: float = 1.0, top_p: float | None = None) -> SceneLaw:
        """Sample from p^(1/T): class shares sharpened, spreads scaled by T (variances).

        Objects per image keep their expected total; only its split over classes changes.
        """
        probs = self.class_shares ** (1.0 / temperature)
        probs = probs / probs.sum()
        if top_p is not None:  # keep the smallest set of classes holding mass top_p
            order = np.argsort(-probs, kind="stable")
            keep = order[: int(np.searchsorted(np.cumsum(probs[order]), top_p - 1e-12)) + 1]
            probs = np.where(np.isin(np.arange(probs.size), keep), probs, 0.0)
            probs = probs / probs.sum()
        root = np.sqrt(temperature)
        return replace(
            self,
            count_mean=probs * self.count_mean.sum(),
            log_size_cov=self.log_size_cov * temperature,
            position_std=self.position_std * root,
            colour_std=self.colour_std * root,
        )

    def sample_objects(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One image's labels (class, cx, cy, w, h) and colours, overlapping objects dropped."""
        classes = np.repeat(np.arange(self.count_mean.size), rng.poisson(self.count_mean))
        labels, colours = [], []
        for c in rng.permutation(classes):
            w, h = np.clip(
                np.exp(rng.multivariate_normal(self.log_size_mean[c], self.log_size_cov[c])),
                MIN_SIZE,
                MAX_SIZE,
            )
            colour = np.clip(rng.normal(self.colour_mean[c], self.colour_std[c]), 0, 255)
            for _ in range(PLACEMENT_TRIES):
                centre = rng.normal(self.position_mean[c], self.position_std[c])
                cx, cy = np.clip(centre, [w / 2, h / 2], [1 - w / 2, 1 - h / 2])
                box = np.array([c, cx, cy, w, h])
                if not labels or box_iou(box[None, 1:], np.array(labels)[:, 1:]).max() <= MAX_OVERLAP:
                    labels.append(box)
                    colours.append(colour)
                    break
        if not labels:
            return empty_labels(), np.zeros((0, 3))
        return np.array(labels, dtype=np.float32), np.array(colours)

    def render(self, n: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
        """``n`` images of ``size`` pixels and their labels."""
        images = np.empty((n, size, size, 3), dtype=np.uint8)
        labels = []
        for i in range(n):
            objects, colours = self.sample_objects(rng)
            images[i] = draw_scene(background(size, rng), objects, colours, self.shapes)
            labels.append(objects)
        return images, labels


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes given as (cx, cy, w, h), shapes (n, 4) x (m, 4) -> (n, m)."""
    a_lo, a_hi = a[:, None, :2] - a[:, None, 2:] / 2, a[:, None, :2] + a[:, None, 2:] / 2
    b_lo, b_hi = b[None, :, :2] - b[None, :, 2:] / 2, b[None, :, :2] + b[None, :, 2:] / 2
    inter = np.prod(np.clip(np.minimum(a_hi, b_hi) - np.maximum(a_lo, b_lo), 0, None), axis=2)
    union = np.prod(a[:, None, 2:], axis=2) + np.prod(b[None, :, 2:], axis=2) - inter
    return inter / np.maximum(union, 1e-12)


COLOUR_ESTIMATES = ("centre", "mask")


def fit_law(
    images: np.ndarray,
    labels,
    shapes: tuple[str, ...],
    *,
    min_std: float = 1e-3,
    colour_estimate: str = "centre",
) -> SceneLaw:
    """Maximum-likelihood scene law of labelled images.

    Colours are read at box centres (``centre``: where an overlapping object or
    the background sometimes shows) or from each object's own rendered pixels
    (``mask``: faithful, so only finite-sample drift is left).

    Classes with no objects get share 0 and never come back; classes with one
    object borrow the spread pooled over all classes.
    """
    k = len(shapes)
    labels = [np.asarray(lab).reshape(-1, 5) for lab in labels]
    objects = np.concatenate(labels)
    if not len(objects):
        raise ValueError("cannot fit a scene law to images without a single labelled object")
    read = box_colours if colour_estimate == "centre" else lambda im, lab: mask_colours(im, lab, shapes)
    colours = np.concatenate([read(im, lab) for im, lab in zip(images, labels, strict=True)])
    cls = objects[:, 0].astype(int)
    log_size = np.log(np.clip(objects[:, 3:5], 1e-3, None))
    pooled = {
        "log_size": (log_size.mean(0), np.cov(log_size.T, bias=True) + np.eye(2) * min_std**2),
        "position": (objects[:, 1:3].mean(0), objects[:, 1:3].std(0) + min_std),
        "colour": (colours.mean(0), colours.std(0) + min_std),
    }
    size_mean, size_cov = np.tile(pooled["log_size"][0], (k, 1)), np.tile(pooled["log_size"][1], (k, 1, 1))
    pos_mean, pos_std = np.tile(pooled["position"][0], (k, 1)), np.tile(pooled["position"][1], (k, 1))
    col_mean, col_std = np.tile(pooled["colour"][0], (k, 1)), np.tile(pooled["colour"][1], (k, 1))
    for c in np.unique(cls):
        mine = cls == c
        size_mean[c], pos_mean[c], col_mean[c] = (
            log_size[mine].mean(0),
            objects[mine, 1:3].mean(0),
            colours[mine].mean(0),
        )
        if mine.sum() > 1:  # maximum likelihood (ddof 0): spreads shrink in expectation, as in real refits
            size_cov[c] = np.cov(log_size[mine].T, bias=True) + np.eye(2) * min_std**2
            pos_std[c] = objects[mine, 1:3].std(0) + min_std
            col_std[c] = colours[mine].std(0) + min_std
    return SceneLaw(
        count_mean=np.bincount(cls, minlength=k) / len(labels),  # Poisson MLE: mean count per image
        log_size_mean=size_mean,
        log_size_cov=size_cov,
        position_mean=pos_mean,
        position_std=pos_std,
        colour_mean=col_mean,
        colour_std=col_std,
        shapes=tuple(shapes),
    )
