"""Auto-annotation: the generation's detector labels real images; what it misses becomes background."""

from __future__ import annotations

import numpy as np

from collapse_sim.components import Generator, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.scenes.dataset import DetectionSet


class PseudoLabelGenerator(Generator):
    """Label ``n`` images drawn from the real pool with the generation's detector: the source's
    unlabelled images where it has them (``source.unlabelled``), else its labelled training pool.

    Detections above ``conf`` become labels (class, box); objects the detector
    misses are simply unlabelled, so the next detector learns them as
    background, as in real auto-annotation pipelines.  The images stay real;
    only their labels are model-made, and their true objects are kept so label
    quality and verification can be measured.
    """

    needs = data_of("detection")

    def __init__(self, *, n: int, conf: float = 0.25, iou: float = 0.7, max_det: int = 100) -> None:
        if not (isinstance(n, int) and n >= 1):
            raise ConfigError("n", f"must be an integer >= 1 (it defaults to n_samples), got {n!r}")
        if not 0 <= conf < 1:
            raise ConfigError("conf", f"must be a confidence threshold in [0, 1), got {conf!r}")
        if not 0 < iou <= 1:
            raise ConfigError("iou", f"must be an NMS IoU threshold in (0, 1], got {iou!r}")
        if not (isinstance(max_det, int) and max_det >= 1):
            raise ConfigError("max_det", f"must be an integer >= 1, got {max_det!r}")
        self.n, self.conf, self.iou, self.max_det = n, conf, iou, max_det

    def check(self, sim) -> None:
        """The real pool must hold the ``n`` images labelled each generation."""
        source = sim.source
        if source.unlabelled_size:
            pool = source.unlabelled_size
            why = f"the unlabelled pool holds {pool} (source.unlabelled and the audit); lower generator.n"
        else:
            pool = source.pool_size
            why = f"source.pool_size is {pool}; raise source.pool_size or lower generator.n"
        if self.n > pool:
            raise ConfigError("generator.n", f"asks to label {self.n} real images per generation but {why}")

    def generate(
        self, model, data: DetectionSet, generation: int, rng: np.random.Generator, *, real
    ) -> DetectionSet:
        """``n`` real images with the detector's labels (build checks the pool holds ``n``)."""
        pool = real.train if real.unlabelled is None else real.unlabelled
        images = pool.subsample(self.n, rng)
        predictions = model.predict(images.images, conf=self.conf, iou=self.iou, max_det=self.max_det)
        labels = [p[:, :5] for p in predictions]
        return DetectionSet.made_by(
            generation, images.images, labels, images.truth, images.names, images.known
        )
