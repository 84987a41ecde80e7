"""Stock Ultralytics training: ``YOLO(model).train(...)`` on a dataset folder per generation.

Each generation writes its training set to ``<run>/generations/NNN/dataset``
(the folder, and the content hash recorded in the store as ``dataset_hash``,
are that generation's dataset version) and trains there; its weights stay in
``<run>/generations/NNN/train/weights/last.pt``.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from collapse_sim.errors import ConfigError
from collapse_sim.scenes.dataset import DetectionSet
from collapse_sim.sources._checks import positive_int
from collapse_sim.yolo.detector import Detector
from collapse_sim.yolo.files import write_dataset
from collapse_sim.yolo.runtime import ultralytics


def builtin_model_yamls() -> dict[str, Path]:
    """Model YAMLs shipped inside Ultralytics, by file name (found without importing it)."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or spec.origin is None:
        return {}
    return {p.name: p for p in (Path(spec.origin).parent / "cfg" / "models").rglob("*.yaml")}


def check_model(model: str) -> str:
    """A model YAML name Ultralytics ships (``yolo26n.yaml``) or a local ``.yaml``/``.pt`` that exists."""
    if Path(model).expanduser().is_file():
        return str(Path(model).expanduser().resolve())
    if model.endswith(".pt"):
        raise ConfigError(
            "model",
            f"{model!r} is not a file; pretrained weights are read only from a local path that exists "
            "(nothing is downloaded). Give the path of a .pt file, or a model YAML such as yolo26n.yaml",
        )
    known = builtin_model_yamls()
    # Ultralytics reads the scale from the name: yolo26n.yaml is yolo26.yaml at scale n.
    family = re.sub(r"(\d+)([nslmx])(.+)?(\.yaml)$", r"\1\3\4", model)
    if model.endswith(".yaml") and (model in known or family in known):
        return model
    examples = ", ".join(
        n for n in ("yolo26n.yaml", "yolo11n.yaml", "yolov8n.yaml") if n.replace("n.", ".") in known
    )
    raise ConfigError(
        "model",
        f"{model!r} is neither a local file nor a model YAML shipped with Ultralytics; "
        f"use one such as {examples}, or the path of a custom .yaml or a local .pt",
    )


def check_probabilities(settings: dict[str, float]) -> dict[str, float]:
    """Augmentation settings, each a probability or fraction in [0, 1]."""
    for key, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ConfigError(key, f"must be a number in [0, 1], got {value!r}")
    return {key: float(value) for key, value in settings.items()}


def resolve_device(device: str) -> str:
    """``auto`` = first GPU when there is one, else CPU; ``cuda[:i]`` only when CUDA is present."""
    if device not in ("auto", "cpu") and not re.fullmatch(r"cuda(:\d+)?", device):
        raise ConfigError("device", f"must be auto, cpu, cuda or cuda:<index>, got {device!r}")
    if device == "cpu":
        return device
    import torch

    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    index = int(device.partition(":")[2] or 0)
    if not torch.cuda.is_available() or index >= torch.cuda.device_count():
        found = torch.cuda.device_count() if torch.cuda.is_available() else 0
        raise ConfigError(
            "device",
            f"asks for {device} but this machine has {found} CUDA device(s) visible to torch; "
            "use trainer.device=cpu or trainer.device=auto",
        )
    return f"cuda:{index}"


def check_run_settings(model: str, device: str, epochs: int, imgsz: int, batch: int) -> tuple:
    """The settings both YOLO trainers share, checked: model, device, epochs, imgsz, batch."""
    return (
        check_model(model),
        resolve_device(device),
        positive_int("epochs", epochs),
        positive_int("imgsz", imgsz, minimum=32),
        positive_int("batch", batch),
    )


class YOLOTrainer:
    """Train an Ultralytics detector from a model YAML (or a local ``.pt``) on each generation's data.

    Defaults suit small synthetic sets: no mosaic (it shrinks objects at
    imgsz 64), AdamW at ``lr0``, no gradient accumulation (``nbs`` = batch),
    one warm-up epoch, validation only after the last epoch.
    """

    family = "detection"
    model_type = Detector

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
    ) -> None:
        self.model, self.device, self.epochs, self.imgsz, self.batch = check_run_settings(
            model, device, epochs, imgsz, batch
        )
        self.val_images = positive_int("val_images", val_images)
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

    def use_workdir(self, path: Path) -> None:
        """Where generation folders go (the run directory)."""
        self.workdir = Path(path)

    def fit(
        self, data: DetectionSet, *, init: Detector | None, rng: np.random.Generator, generation: int
    ) -> Detector:
        """Train on ``data`` (fine-tuning ``init`` when warm-starting); the last epoch's weights."""
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="collapse_sim_yolo_"))
        folder = self.workdir / "generations" / f"{generation:03d}"
        data_yaml = write_dataset(folder / "dataset", data, val_images=self.val_images)
        shutil.rmtree(folder / "train", ignore_errors=True)  # an interrupted attempt starts over
        yolo = ultralytics(self.workdir).YOLO(str(init.weights) if init else self.model, task="detect")
        yolo.train(
            data=str(data_yaml),
            epochs=self.epochs,
            imgsz=self.imgsz,
            batch=self.batch,
            nbs=self.batch,
            device=self.device,
            workers=0,
            seed=int(rng.integers(2**31)),
            deterministic=True,
            project=str(folder),
            name="train",
            exist_ok=True,
            pretrained=init is not None,
            val=False,
            plots=False,
            close_mosaic=0,
            save=False,  # checkpoint only after the last epoch, not twice per epoch
            verbose=False,
            **self.hyperparameters,
        )
        weights = folder / "train" / "weights"
        (weights / "best.pt").unlink(missing_ok=True)  # selected on training images: not worth the disk
        return Detector(weights / "last.pt", names=data.names, imgsz=self.imgsz, device=self.device)
