"""The training core: the same Ultralytics network and loss as ``yolo``, fed from tensors on the device.

Per generation the images become one ``uint8`` tensor on the device;
batches, augmentation, loss, optimiser and EMA all run there, with no
dataset folder, data loader, per-epoch validation or checkpoint in between.
What is kept on disk is the generation's weights,
``<run>/generations/NNN/weights.pt`` (an Ultralytics checkpoint, written
atomically), ``train_log.csv`` with the loss (and test mAP50 when
``eval_every`` is set) per epoch, and ``sample/``, its first few training
images in YOLO format for a look at what it learnt from.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import RunContext, Trainer, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.scenes.dataset import DetectionSet
from collapse_sim.yolo.fast_detector import FastDetector
from collapse_sim.yolo.files import write_dataset
from collapse_sim.yolo.runtime import ultralytics, use_threads
from collapse_sim.yolo.settings import (
    check_generation0,
    check_model_classes,
    check_probabilities,
    check_run_settings,
)

PRECISIONS = ("auto", "fp32", "bf16")
SAMPLE_IMAGES = 8


class YOLOFastTrainer(Trainer):
    """Train an Ultralytics detector in memory; its results match stock training at a fraction of the time.

    Optimiser and schedule follow Ultralytics: AdamW (betas 0.937, 0.999),
    weight decay 5e-4 on conv weights only, a linear decay of the learning rate
    to ``lr0 / 100``, gradient-norm clipping at 10 and its ``ModelEMA``.
    ``precision=auto`` is bf16 autocast on a CUDA GPU and float32 on a CPU.
    ``generation0=load`` takes ``model`` (a trained ``.pt``) as generation 0's
    model without training it.
    """

    needs = data_of("detection") | {"run folder", "epoch progress", "real data"}

    def __init__(
        self,
        *,
        model: str = "yolo26n.yaml",
        epochs: int = 10,
        imgsz: int = 64,
        batch: int = 16,
        device: str = "auto",
        lr0: float = 0.004,
        weight_decay: float = 0.0005,
        fliplr: float = 0.5,
        scale: float = 0.2,
        translate: float = 0.1,
        hsv_s: float = 0.0,
        hsv_v: float = 0.2,
        precision: str = "auto",
        compile: bool = False,
        eval_every: int = 0,
        threads: int = 1,
        generation0: str = "train",
    ) -> None:
        self.model, self.device, self.epochs, self.imgsz, self.batch = check_run_settings(
            model, device, epochs, imgsz, batch
        )
        self.generation0 = check_generation0(generation0, self.model)
        if self.imgsz % 32:
            raise ConfigError(
                "imgsz", f"must be a multiple of 32 (the network's largest stride), got {imgsz}"
            )
        self.eval_every = positive_int("eval_every", eval_every, minimum=0)
        self.threads = positive_int("threads", threads)
        self.progress: Callable[[int, int], None] | None = None
        self.augmentation = check_probabilities(
            dict(fliplr=fliplr, scale=scale, translate=translate, hsv_s=hsv_s, hsv_v=hsv_v)
        )
        if not lr0 > 0:
            raise ConfigError("lr0", f"must be > 0, got {lr0!r}")
        if not weight_decay >= 0:
            raise ConfigError("weight_decay", f"must be >= 0, got {weight_decay!r}")
        if precision not in PRECISIONS:
            raise ConfigError("precision", f"must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        on_gpu = self.device.startswith("cuda")
        self.precision = ("bf16" if on_gpu else "fp32") if precision == "auto" else precision
        self.lr0, self.weight_decay, self.compile = lr0, weight_decay, compile
        self.workdir: Path | None = None
        self.test: DetectionSet | None = None

    def setup(self, context: RunContext) -> None:
        """Generation folders go under the chain's folder; epochs are reported to the run's progress;
        the fixed real test set is scored every ``eval_every`` epochs when asked."""
        self.workdir, self.progress = Path(context.folder), context.progress
        self.test = context.real.test if context.real is not None else None

    def check(self, sim) -> None:
        """A local ``.pt`` must predict the data's classes, by count and name."""
        check_model_classes(self.model, sim.source.names)

    def fit(
        self, data: DetectionSet, *, init: FastDetector | None, rng: np.random.Generator, generation: int
    ) -> FastDetector:
        """Train on ``data`` (fine-tuning ``init`` when warm-starting); the EMA weights of the last epoch."""
        import torch

        from collapse_sim.yolo.network import build_network, given_weights, save_network

        if self.workdir is None:
            raise RuntimeError("YOLOFastTrainer.fit before setup(context): the run hands it its folder")
        ultralytics(self.workdir)
        folder = self.workdir / "generations" / f"{generation:03d}"
        if generation == 0 and self.generation0 == "load":  # the user's detector, measured as it is
            return self._detector(given_weights(self.model, folder / "weights.pt"), data.names)
        seed = int(rng.integers(2**31))
        if self.device == "cpu":
            use_threads(self.threads)
        torch.manual_seed(seed)  # the new head's initial weights
        hyperparameters = dict(
            epochs=self.epochs, imgsz=self.imgsz, batch=self.batch, lr0=self.lr0, seed=seed
        )
        network = build_network(
            self.model,
            len(data.names),
            start_from=init.weights if init else None,
            hyperparameters=hyperparameters,
        )
        network.names = dict(enumerate(data.names))
        run = self.training_run(network, data, seed)
        log = []
        for epoch in range(self.epochs):
            began = time.perf_counter()
            losses = run.epoch(epoch, self.epochs)
            row = {"epoch": epoch, **losses, "seconds": round(time.perf_counter() - began, 3)}
            if self.eval_every and self.test is not None and (epoch + 1) % self.eval_every == 0:
                row["map50"] = run.map50(self.test)
            log.append(row)
            if self.progress is not None:
                self.progress(epoch + 1, self.epochs)
        # The weights name the data they learnt from: the store's dataset_hash[generation].
        train_args = {**vars(network.args), "dataset_version": data.content_hash()}
        written = save_network(folder / "weights.pt", run.ema.ema, train_args=train_args)
        _write_log(folder / "train_log.csv", log)
        write_dataset(folder / "sample", data.take(range(min(SAMPLE_IMAGES, len(data)))), val_images=1)
        return self._detector(folder / "weights.pt", data.names, written=written)

    def _detector(self, weights: Path, names, written=None) -> FastDetector:
        return FastDetector(
            weights,
            names=names,
            imgsz=self.imgsz,
            device=self.device,
            precision=self.precision,
            written=written,
        )

    def training_run(self, network, data: DetectionSet, seed: int):
        """This trainer's settings applied to training ``network`` on ``data``: a ``TrainingRun``."""
        import torch

        from collapse_sim.yolo.core import TrainingRun

        return TrainingRun(
            network,
            data,
            imgsz=self.imgsz,
            batch=self.batch,
            device=torch.device(self.device),
            lr0=self.lr0,
            weight_decay=self.weight_decay,
            augmentation=self.augmentation,
            bf16=self.precision == "bf16",
            compile=self.compile,
            seed=seed,
        )


def _write_log(path: Path, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
