"""How right a set of labels is: one-to-one matches with the true objects of each image."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from collapse_sim.scenes.law import box_iou


def matched_classes(labels: np.ndarray, truth: np.ndarray, *, iou: float = 0.5) -> np.ndarray:
    """Classes of the labels matched one-to-one to a true object of the same class with IoU >= ``iou``."""
    if not len(labels) or not len(truth):
        return np.zeros(0, dtype=int)
    overlap = box_iou(labels[:, 1:5], truth[:, 1:5]) * (labels[:, None, 0] == truth[None, :, 0])
    rows, cols = linear_sum_assignment(-overlap)
    return labels[rows[overlap[rows, cols] >= iou], 0].astype(int)


def correct_labels(labels: np.ndarray, truth: np.ndarray, *, iou: float = 0.5) -> int:
    """Labels matched one-to-one to a true object of the same class with IoU >= ``iou``."""
    return len(matched_classes(labels, truth, iou=iou))


def label_quality(data, *, iou: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image: correct labels, labels, true objects."""
    hits = np.array(
        [correct_labels(lab, tru, iou=iou) for lab, tru in zip(data.labels, data.truth, strict=True)]
    )
    return hits, np.array([len(lab) for lab in data.labels]), np.array([len(t) for t in data.truth])


def images_correct(data, *, iou: float = 0.5) -> np.ndarray:
    """True where an image's labels are exactly its objects (nothing missed, nothing extra)."""
    hits, n_labels, n_truth = label_quality(data, iou=iou)
    return (hits == n_labels) & (hits == n_truth)


def label_quality_by_class(data, n_classes: int, *, iou: float = 0.5) -> tuple[np.ndarray, ...]:
    """Per class, over the whole set: correct labels, labels, true objects."""
    hits, labelled, true = (np.zeros(n_classes, dtype=int) for _ in range(3))
    for labels, truth in zip(data.labels, data.truth, strict=True):
        hits += np.bincount(matched_classes(labels, truth, iou=iou), minlength=n_classes)
        labelled += np.bincount(labels[:, 0].astype(int), minlength=n_classes)
        true += np.bincount(truth[:, 0].astype(int), minlength=n_classes)
    return hits, labelled, true
