"""Stock Ultralytics training: ``YOLO(model).train(...)`` on a dataset folder per generation.

Each generation writes its training set to ``<run>/generations/NNN/dataset``
(the folder, and the content hash recorded in the store as ``dataset_hash``,
are that generation's dataset version) and trains there; its weights stay in
``<run>/generations/NNN/train/weights/last.pt``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import RunContext, Trainer, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.scenes.dataset import DetectionSet
from collapse_sim.yolo.detector import Detector
from collapse_sim.yolo.files import write_dataset
from collapse_sim.yolo.network import given_weights
from collapse_sim.yolo.settings import (
    check_generation0,
    check_model_classes,
    check_probabilities,
    check_run_settings,
)
from collapse_sim.yolo.stock import train_stock


class YOLOTrainer(Trainer):
    """Train an Ultralytics detector from a model YAML (or a local ``.pt``) on each generation's data.

    ``generation0=load`` takes ``model`` (a trained ``.pt``) as generation 0's
    model without training it. Defaults suit small synthetic sets: no mosaic (it shrinks objects at
    imgsz 64), AdamW at ``lr0``, no gradient accumulation (``nbs`` = batch),
    one warm-up epoch, validation only after the last epoch.
    """

    needs = data_of("detection") | {"run folder", "epoch progress"}

    def __init__(
        self,
        *,
        model: str = "yolo26n.yaml",
        epochs: int = 10,
        imgsz: int = 64,
        batch: int = 16,
        device: str = "auto",
        optimizer: str = "AdamW",
        lr0: float = 0.004,
        warmup_epochs: float = 0.0,
        mosaic: float = 0.0,
        fliplr: float = 0.5,
        scale: float = 0.2,
        hsv_h: float = 0.0,
        hsv_s: float = 0.0,
        hsv_v: float = 0.2,
        amp: bool = True,
        val_images: int = 16,
        threads: int = 1,
        generation0: str = "train",
    ) -> None:
        self.model, self.device, self.epochs, self.imgsz, self.batch = check_run_settings(
            model, device, epochs, imgsz, batch
        )
        self.generation0 = check_generation0(generation0, self.model)
        self.val_images = positive_int("val_images", val_images)
        self.threads = positive_int("threads", threads)
        self.progress: Callable[[int, int], None] | None = None
        augment = check_probabilities(
            dict(mosaic=mosaic, fliplr=fliplr, scale=scale, hsv_h=hsv_h, hsv_s=hsv_s, hsv_v=hsv_v)
        )
        if not lr0 > 0:
            raise ConfigError("lr0", f"must be > 0, got {lr0!r}")
        self.hyperparameters = dict(
            optimizer=optimizer,
            lr0=lr0,
            warmup_epochs=warmup_epochs,
            **augment,
            amp=amp and self.device.startswith("cuda"),
        )
        self.workdir: Path | None = None

    def setup(self, context: RunContext) -> None:
        """Generation folders go under the chain's folder; epochs are reported to the run's progress."""
        self.workdir, self.progress = Path(context.folder), context.progress

    def check(self, sim) -> None:
        """A local ``.pt`` must predict the data's classes, by count and name."""
        check_model_classes(self.model, sim.source.names)

    def fit(
        self, data: DetectionSet, *, init: Detector | None, rng: np.random.Generator, generation: int
    ) -> Detector:
        """Train on ``data`` (fine-tuning ``init`` when warm-starting); the last epoch's weights."""
        if self.workdir is None:
            raise RuntimeError("YOLOTrainer.fit before setup(context): the run hands it its folder")
        folder = self.workdir / "generations" / f"{generation:03d}"
        if generation == 0 and self.generation0 == "load":  # the user's detector, measured as it is
            weights = given_weights(self.model, folder / "weights.pt")
            return Detector(weights, names=data.names, imgsz=self.imgsz, device=self.device)
        data_yaml = write_dataset(folder / "dataset", data, val_images=self.val_images)
        shutil.rmtree(folder / "train", ignore_errors=True)  # an interrupted attempt starts over
        last = train_stock(
            str(init.weights) if init else self.model,
            data_yaml,
            folder,
            workdir=self.workdir,
            pretrained=init is not None,
            epochs=self.epochs,
            imgsz=self.imgsz,
            batch=self.batch,
            device=self.device,
            seed=int(rng.integers(2**31)),
            threads=self.threads,
            on_epoch=self.progress,
            hyperparameters=self.hyperparameters,
        )
        last.with_name("best.pt").unlink(missing_ok=True)  # selected on training images: not worth the disk
        return Detector(last, names=data.names, imgsz=self.imgsz, device=self.device)
