"""Stock Ultralytics training, ``YOLO(model).train(...)``, with the settings collapse_sim needs."""

from __future__ import annotations

from pathlib import Path

from collapse_sim.yolo.runtime import ultralytics


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
    hyperparameters: dict,
) -> Path:
    """Train ``model`` on ``data_yaml`` into ``folder/train``; returns the last epoch's weights.

    Deterministic for a seed, no gradient accumulation (``nbs`` = batch), no
    per-epoch validation, plots or checkpoints: the run keeps its own records.
    """
    yolo = ultralytics(workdir).YOLO(model, task="detect")
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
