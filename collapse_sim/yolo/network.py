"""Ultralytics detection networks for the in-memory trainer: build, load and save them.

Checkpoints use Ultralytics' own format (``{"ema": model, "train_args": ...}``),
so ``YOLO(path)`` and the stock trainer read what the fast trainer writes and
the other way round. Weights stay in float32: a warm-started chain of
generations should not lose precision at every hand-over.
"""

from __future__ import annotations

import functools
from copy import deepcopy
from pathlib import Path

from collapse_sim.checkpoints import atomic_write
from collapse_sim.errors import ConfigError
from collapse_sim.yolo.runtime import ultralytics


def read_checkpoint(path: Path):
    """The float32 network stored in an Ultralytics checkpoint."""
    ultralytics()
    from ultralytics.nn.tasks import torch_safe_load

    try:
        checkpoint, _ = torch_safe_load(str(path))
    except Exception as error:  # truncated, not a torch file, or an unknown module inside
        raise ConfigError("model", f"{path} cannot be read as an Ultralytics checkpoint ({error})") from None
    network = (checkpoint.get("ema") or checkpoint.get("model")) if isinstance(checkpoint, dict) else None
    if network is None or not hasattr(network, "yaml"):
        raise ConfigError(
            "model", f"{path} is not an Ultralytics detection checkpoint (no 'ema' or 'model' network)"
        )
    return network.float()


@functools.lru_cache(maxsize=8)
def checkpoint_names(path: str) -> tuple[str, ...]:
    """The class names of a checkpoint's detector, one per class it predicts (``"0"``, ``"1"``... where
    it names none); read once per process (a sweep checks every job)."""
    network = read_checkpoint(path)
    count = int(network.model[-1].nc)
    names = getattr(network, "names", None) or {}
    names = names if isinstance(names, dict) else dict(enumerate(names))
    return tuple(str(names.get(i, i)) for i in range(count))


def build_network(model: str, n_classes: int, *, start_from: Path | None, hyperparameters: dict):
    """A trainable ``DetectionModel`` for ``n_classes`` from ``model`` (YAML or ``.pt``) or ``start_from``.

    As in stock Ultralytics training, a ``.pt`` gives its architecture and every
    weight whose shape fits; the class head is new when the class count differs.
    ``hyperparameters`` become ``network.args``, which the loss reads (gains, epochs).
    """
    ultralytics()
    from ultralytics.cfg import get_cfg
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils import DEFAULT_CFG

    weights = Path(start_from) if start_from else Path(model) if model.endswith(".pt") else None
    source = read_checkpoint(weights) if weights else None
    network = DetectionModel(source.yaml if source else model, nc=n_classes, verbose=False)
    if source is not None:
        network.load(source, verbose=False)
    network.args = get_cfg(DEFAULT_CFG, hyperparameters)
    return network


def given_weights(model: str, path: Path) -> Path:
    """A copy of the user's trained weights at ``path`` (written atomically): the chain's generation 0
    stays what it was even if the file it came from is replaced later."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda file: file.write(Path(model).read_bytes()))
    return path


def save_network(path: Path, network, *, train_args: dict):
    """Write ``network`` as an Ultralytics checkpoint, atomically (temporary file, then rename); returns the
    float32 CPU copy written, the network a reader of the file gets."""
    import torch

    snapshot = deepcopy(network).float().to("cpu", memory_format=torch.contiguous_format)
    snapshot.criterion = None  # training-only state
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(
        path, lambda file: torch.save({"ema": snapshot, "model": None, "train_args": train_args}, file)
    )
    return snapshot
