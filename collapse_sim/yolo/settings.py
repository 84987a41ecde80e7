"""Settings both YOLO trainers share, checked before any work: model, device, sizes, augmentation."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from collapse_sim.checks import positive_int
from collapse_sim.devices import resolve_device
from collapse_sim.errors import ConfigError


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


def check_run_settings(model: str, device: str, epochs: int, imgsz: int, batch: int) -> tuple:
    """The settings both YOLO trainers share, checked: model, device, epochs, imgsz, batch."""
    return (
        check_model(model),
        resolve_device(device),
        positive_int("epochs", epochs),
        positive_int("imgsz", imgsz, minimum=32),
        positive_int("batch", batch),
    )


def check_model_classes(model: str, classes: int) -> None:
    """A local ``.pt`` must predict as many classes as the data has (its head is not silently replaced)."""
    if not model.endswith(".pt"):
        return
    from collapse_sim.yolo.network import checkpoint_classes

    try:
        found = checkpoint_classes(model)
    except ConfigError as error:
        raise error.prefixed("trainer") from None
    if found != classes:
        raise ConfigError(
            "trainer.model",
            f"{model} predicts {found} classes but the data has {classes}; give a checkpoint trained on "
            f"these {classes} classes, or the model's YAML (e.g. yolo26n.yaml) to train from scratch",
        )
