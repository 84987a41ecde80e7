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


def check_model_classes(model: str, names: tuple[str, ...]) -> None:
    """A local ``.pt`` must predict the data's classes: as many (its head is not silently replaced), and
    under the same names in the same order where the checkpoint names them (a class id means one thing)."""
    if not model.endswith(".pt"):
        return
    from collapse_sim.yolo.network import checkpoint_names

    try:
        found = checkpoint_names(model)
    except ConfigError as error:
        raise error.prefixed("trainer") from None
    if len(found) != len(names):
        raise ConfigError(
            "trainer.model",
            f"{model} predicts {len(found)} classes but the data has {len(names)}; give a checkpoint trained "
            f"on these {len(names)} classes, or the model's YAML (e.g. yolo26n.yaml) to train from scratch",
        )
    unnamed = found == tuple(str(i) for i in range(len(found)))  # a network built from a YAML names none
    if not unnamed and found != tuple(names):
        raise ConfigError(
            "trainer.model",
            f"{model} was trained on the classes {list(found)} but the data names {list(names)}; class ids "
            "must mean the same classes in the same order: give the weights trained on this data.yaml's "
            "names, or fix the data.yaml's names to the weights' order",
        )


GENERATION0 = ("train", "load")


def check_generation0(generation0: str, model: str) -> str:
    """``train`` fits generation 0 on the labelled data; ``load`` takes ``model``'s trained weights."""
    if generation0 not in GENERATION0:
        raise ConfigError(
            "generation0",
            "must be train (fit generation 0 on the labelled training split) or load (take "
            f"trainer.model's trained weights as generation 0's model), got {generation0!r}",
        )
    if generation0 == "load" and not model.endswith(".pt"):
        raise ConfigError(
            "generation0",
            f"load takes trained weights as generation 0's model, but trainer.model is {model!r}, which "
            "builds an untrained network; set trainer.model to your detector's .pt (e.g. "
            "runs/detect/train/weights/best.pt), or use generation0=train",
        )
    return generation0
