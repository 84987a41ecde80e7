"""A detector that predicts straight from image arrays: one forward pass per batch, Ultralytics' own NMS.

It returns exactly what ``Detector.predict`` returns, without Ultralytics'
predictor (per-image letterbox, ``Results`` objects, BGR round trips): the
scenes are square, so Ultralytics' letterbox reduces to the resize done here.
"""

from __future__ import annotations

import numpy as np

from collapse_sim.yolo.detector import Detector
from collapse_sim.yolo.network import read_checkpoint
from collapse_sim.yolo.runtime import ultralytics


class FastDetector(Detector):
    """``Detector`` whose ``predict`` runs the fused network on batched tensors."""

    def __init__(self, weights, *, names, imgsz, device, precision: str = "fp32", written=None) -> None:
        super().__init__(weights, names=names, imgsz=imgsz, device=device)
        self.precision = precision
        # ``written``: the network just saved to ``weights`` (``save_network``'s copy), so a generation is
        # measured without reading back the file it wrote (about 0.1 s a generation at imgsz 64).
        self._written = written
        self._network = None

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "_network": None, "_written": None}

    @property
    def network(self):
        """The fused float32 network in eval mode, on ``device``."""
        if self._network is None:
            network = self._written if self._written is not None else read_checkpoint(self.weights)
            self._written = None
            self._network = network.fuse(verbose=False).eval().to(self.device)
        return self._network

    def predict(
        self, images: np.ndarray, *, conf: float, iou: float = 0.7, max_det: int = 300, batch: int = 64
    ) -> list[np.ndarray]:
        """Per image an array ``(k, 6)``: class, cx, cy, w, h (normalised), confidence."""
        return predict_arrays(
            self.network,
            images,
            imgsz=self.imgsz,
            device=self.device,
            bf16=self.precision == "bf16",
            conf=conf,
            iou=iou,
            max_det=max_det,
            batch=batch,
        )


def predict_arrays(
    network,
    images: np.ndarray,
    *,
    imgsz: int,
    device,
    bf16: bool,
    conf: float,
    iou: float,
    max_det: int,
    batch: int,
) -> list[np.ndarray]:
    """Run an eval-mode network on ``(N, S, S, 3)`` RGB images; per image ``(k, 6)``: class, box, conf."""
    import torch

    from collapse_sim.yolo.tensors import as_image_tensor

    ultralytics()
    from ultralytics.utils.nms import non_max_suppression

    device, out = torch.device(device), []
    with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16, enabled=bf16):
        for start in range(0, len(images), batch):
            x = as_image_tensor(images[start : start + batch], imgsz, device)
            raw = network(x.float().div_(255))
            kept = non_max_suppression(
                raw, conf, iou, max_det=max_det, end2end=getattr(network, "end2end", False)
            )
            for boxes in kept:  # x1, y1, x2, y2 (pixels), confidence, class
                boxes = boxes.float().cpu().numpy()
                x1, y1, x2, y2 = np.clip(boxes[:, :4] / imgsz, 0, 1).T  # clipped to the image, as Ultralytics
                labels = [boxes[:, 5], (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, boxes[:, 4]]
                out.append(np.column_stack(labels).astype(np.float32))
    return out
