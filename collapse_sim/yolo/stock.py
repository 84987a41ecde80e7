"""Stock Ultralytics training, ``YOLO(model).train(...)``, with the settings collapse_sim needs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from collapse_sim.yolo.runtime import ultralytics, use_threads


def train_stock(
    model: str,
    data_yaml: Path,
    folder: Path,
    *,
    workdir: Path,
    pretrained: bool,
    epochs: int,
    imgsz: int,
    batch: int,
    device: str,
    seed: int,
    threads: int,
    hyperparameters: dict,
    on_epoch: Callable[[int, int], None] | None = None,
) -> Path:
    """Train ``model`` on ``data_yaml`` into ``folder/train``; returns the last epoch's weights.

    Deterministic for a seed, no gradient accumulation (``nbs`` = batch), no
    per-epoch validation, plots or checkpoints: the run keeps its own records.
    """
    ultralytics(workdir)
    use_threads(threads)  # Ultralytics' device set-up applies it on a CPU
    yolo = ultralytics().YOLO(model, task="detect")
    if on_epoch is not None:
        yolo.add_callback("on_train_epoch_end", lambda trainer: on_epoch(trainer.epoch + 1, trainer.epochs))
    yolo.train(
        data=str(data_yaml),
        epochs=epochs,
        imgsz=imgsz,
        batch=batch,
        nbs=batch,
        device=device,
        workers=0,
        seed=seed,
        deterministic=True,
        project=str(folder),
        name="train",
        exist_ok=True,
        pretrained=pretrained,
        val=False,
        plots=False,
        close_mosaic=0,
        save=False,  # checkpoint only after the last epoch, not twice per epoch
        verbose=False,
        **hyperparameters,
    )
    return Path(folder) / "train" / "weights" / "last.pt"
