"""Detector quality on the fixed real test set, scored with Ultralytics' own matching and AP code.

Predictions use a low confidence threshold (0.001) as Ultralytics' validator
does; each prediction is matched to the true boxes at IoU 0.50:0.95 with
``BaseValidator.match_predictions`` and ``ap_per_class`` turns the matches into
AP per class.  ``recall[class]`` is Ultralytics' recall at the confidence that
maximises the mean F1.  Classes absent from the test set get NaN.

Predicted boxes are clipped to the image, as Ultralytics' predictor returns
them; its validator matches them unclipped, so where a detector draws boxes
past the border ``YOLO.val`` scores lower at high IoU. Measured on one
detector's weights (yolo_fast, 16 epochs at lr0 0.01, 48 test scenes of 64 px):
mAP50-95 0.3525 here, 0.3280 by ``YOLO.val``, 0.3279 here with the clip removed.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from collapse_sim.components import Metric, RealData, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.metrics import SHARE, Figure, Rarest, measured, variable
from collapse_sim.scenes.dataset import DetectionSet, box_sizes
from collapse_sim.yolo.scoring import average_precision, match

SIZE_BINS = ("small", "medium", "large")


# What the run's page makes of the per-class scores: AP a line a class (the rarest bold), and the rarest
# quarter's mean AP and recall.
AP_BY_CLASS = {
    "figure": Figure(
        "class_lines",
        title="AP50-95 on the real test set",
        caption="AP50-95 of each class on the fixed real test set per generation ({chains}); the rarest "
        "quarter's classes bold, mAP50-95 dashed; the axis starts at 0.",
        file="ap_per_class",
        overall="map50_95",
    ),
    "rarest": Rarest("mean", "rare_ap50_95", "mean AP50-95 on the real test set"),
}
RECALL_BY_CLASS = {"rarest": Rarest("mean", "rare_recall", "mean recall on the real test set")}


class DetectionMetrics(Metric):
    """``map50``, ``map50_95``, ``ap50_95[class]``, ``recall[class]``, ``ap50_95_by_size[size_bin]``.

    ``size_bins`` are the two box-size edges (geometric mean side as a
    fraction of the image side) between small, medium and large objects; a
    prediction counts in the bin of its own size, as in COCO's area ranges.
    """

    needs = data_of("detection")

    def __init__(self, *, size_bins: list[float] = (0.2, 0.3), conf: float = 0.001, iou: float = 0.7) -> None:
        if len(size_bins) != 2 or not 0 < size_bins[0] < size_bins[1] < 1:
            raise ConfigError("size_bins", f"must be two increasing edges in (0, 1), got {list(size_bins)!r}")
        self.size_bins = tuple(float(b) for b in size_bins)
        self.conf, self.iou = conf, iou

    def measure(self, model, data: DetectionSet, real: RealData) -> xr.Dataset:
        """Score the generation's detector on the real test set."""
        test: DetectionSet = real.test
        k = len(test.names)
        predictions = model.predict(test.images, conf=self.conf, iou=self.iou, max_det=300)
        correct, conf, pred_cls, pred_size = match(predictions, test.labels)
        targets = test.objects()
        ap, recall = average_precision(correct, conf, pred_cls, targets[:, 0], k)
        by_size = []
        edges = (0.0, *self.size_bins, np.inf)
        target_bin = np.digitize(box_sizes(targets), edges[1:-1])
        pred_bin = np.digitize(pred_size, edges[1:-1])
        for b in range(3):
            in_bin = [t[np.digitize(box_sizes(t), edges[1:-1]) == b] for t in test.labels]
            c, _, _, _ = match(predictions, tuple(in_bin))
            keep = pred_bin == b
            bin_ap, _ = average_precision(c[keep], conf[keep], pred_cls[keep], targets[target_bin == b, 0], k)
            by_size.append(np.nanmean(bin_ap[:, :].mean(1)) if np.isfinite(bin_ap).any() else np.nan)
        return measured(
            {
                "map50": variable(
                    (),
                    np.nanmean(ap[:, 0]),
                    units="1",
                    description="mean over classes of AP at IoU 0.5 on the real test set",
                    valid=SHARE,
                    key=2,
                ),
                "map50_95": variable(
                    (),
                    np.nanmean(ap.mean(1)),
                    units="1",
                    description="mean over classes of AP at IoU 0.50:0.95 on the real test set",
                    valid=SHARE,
                    key=1,
                ),
                "ap50_95": variable(
                    ("class",),
                    ap.mean(1),
                    units="1",
                    description="AP at IoU 0.50:0.95 per class on the real test set",
                    valid=SHARE,
                    **AP_BY_CLASS,
                ),
                "recall": variable(
                    ("class",),
                    recall,
                    units="1",
                    description="recall per class at the max-F1 confidence on the real test set",
                    valid=SHARE,
                    **RECALL_BY_CLASS,
                ),
                "ap50_95_by_size": variable(
                    ("size_bin",),
                    np.array(by_size),
                    units="1",
                    description="mAP50-95 on the real test set by object size "
                    f"(edges {self.size_bins[0]:g}, {self.size_bins[1]:g} of the image side)",
                    valid=SHARE,
                ),
            },
            coords={
                "class": np.array(test.names, dtype=object),
                "size_bin": np.array(SIZE_BINS, dtype=object),
            },
        )
