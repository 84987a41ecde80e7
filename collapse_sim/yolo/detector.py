"""A trained YOLO detector: weights on disk, loaded on first use, pickled as its path."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from collapse_sim.yolo.runtime import ultralytics


class Detector:
    """The model of one generation; ``predict`` returns YOLO-format labels with confidences."""

    sampling_options: tuple[str, ...] = ()

    def __init__(self, weights: Path, *, names: tuple[str, ...], imgsz: int, device: str) -> None:
        self.weights = Path(weights)
        self.names = tuple(names)
        self.imgsz = imgsz
        self.device = device
        self._yolo = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_yolo": None}  # checkpoints hold the path, not the network

    @property
    def yolo(self):
        """The ``ultralytics.YOLO`` model, loaded from ``weights``."""
        if self._yolo is None:
            self._yolo = ultralytics().YOLO(str(self.weights), task="detect")
        return self._yolo

    def predict(
        self, images: np.ndarray, *, conf: float, iou: float = 0.7, max_det: int = 300, batch: int = 64
    ) -> list[np.ndarray]:
        """Per image an array ``(k, 6)``: class, cx, cy, w, h (normalised), confidence."""
        out = []
        for start in range(0, len(images), batch):
            # Ultralytics takes numpy images as BGR (OpenCV order); ours are RGB.
            chunk = [np.ascontiguousarray(im[..., ::-1]) for im in images[start : start + batch]]
            results = self.yolo.predict(
                chunk,
                imgsz=self.imgsz,
                conf=conf,
                iou=iou,
                max_det=max_det,
                device=self.device,
                batch=len(chunk),
                verbose=False,
            )
            for r in results:
                boxes = r.boxes
                out.append(
                    np.concatenate(
                        [
                            boxes.cls.cpu().numpy()[:, None],
                            boxes.xywhn.cpu().numpy(),
                            boxes.conf.cpu().numpy()[:, None],
                        ],
                        axis=1,
                    ).astype(np.float32)
                )
        return out
