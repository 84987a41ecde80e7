"""Score predictions against true boxes with Ultralytics' own matcher and ``ap_per_class``.

Predictions are ``(k, 6)`` arrays per image (class, cx, cy, w, h, confidence);
each is matched to the true boxes at IoU 0.50:0.95 with
``BaseValidator.match_predictions``, as Ultralytics' validator does.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from collapse_sim.scenes.dataset import box_sizes
from collapse_sim.yolo.runtime import ultralytics


def match(predictions: list[np.ndarray], truth: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Stack every prediction with its correctness at the 10 IoU thresholds (Ultralytics' matcher)."""
    import torch

    ultralytics()  # offline set-up before any Ultralytics module loads
    from ultralytics.engine.validator import BaseValidator
    from ultralytics.utils.metrics import box_iou
    from ultralytics.utils.ops import xywh2xyxy

    matcher = SimpleNamespace(iouv=torch.linspace(0.5, 0.95, 10))
    correct, conf, pred_cls, pred_size = [], [], [], []
    for pred, true in zip(predictions, truth, strict=True):
        hits = np.zeros((len(pred), 10), dtype=bool)
        if len(pred) and len(true):
            order = np.argsort(-pred[:, 5], kind="stable")  # the matcher expects descending confidence
            pred = pred[order]
            iou = box_iou(
                xywh2xyxy(torch.from_numpy(true[:, 1:5])), xywh2xyxy(torch.from_numpy(pred[:, 1:5]))
            )
            hits = BaseValidator.match_predictions(
                matcher, torch.from_numpy(pred[:, 0]), torch.from_numpy(true[:, 0]), iou
            ).numpy()
        correct.append(hits)
        conf.append(pred[:, 5])
        pred_cls.append(pred[:, 0])
        pred_size.append(box_sizes(pred))
    return tuple(np.concatenate(x) for x in (correct, conf, pred_cls, pred_size))


def average_precision(correct, conf, pred_cls, target_cls, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """AP50-95 ``(n_classes, 10)`` per class and recall per class, NaN where a class has no targets."""
    ultralytics()
    from ultralytics.utils.metrics import ap_per_class

    ap = np.full((n_classes, 10), np.nan)
    recall = np.full(n_classes, np.nan)
    if len(target_cls):
        _, _, _, r, _, class_ap, classes, *_ = ap_per_class(correct, conf, pred_cls, target_cls)
        ap[classes.astype(int)] = class_ap
        recall[classes.astype(int)] = r
    return ap, recall
