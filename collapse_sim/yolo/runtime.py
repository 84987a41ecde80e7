"""Import Ultralytics offline, once per process, with its side effects switched off.

Ultralytics reads its settings file, probes DNS and decides its thread count
when it is first imported, so all of that is decided here, in one place:

- ``YOLO_OFFLINE=1``: no DNS probe, no pip or hub checks, no downloads;
- ``YOLO_CONFIG_DIR``: its settings file lives in the first run directory of
  the process (``<run>/Ultralytics/settings.json``, never in the user's home);
- tracker integrations (ClearML, Comet, DVC, MLflow, Ray Tune, TensorBoard,
  W&B) and hub sync are off;
- the CPU thread count is every core (Ultralytics would use ``cores - 1``,
  which is one thread on a 2-core machine and halves training speed), or
  ``OMP_NUM_THREADS`` when set: joblib's workers get cores / jobs each;
- the AMP self-check, which downloads ``yolo26n.pt`` on CUDA, is replaced by
  the ``amp`` setting the user chose;
- no font download: dataset checks fetch Arial for plots (``plots=False`` here);
- ``PIL.Image.open`` is given back: Ultralytics patches it to pip-install a HEIF
  plugin whenever Pillow cannot identify a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import ModuleType

from collapse_sim.devices import available_cores

INTEGRATIONS = ("clearml", "comet", "dvc", "mlflow", "raytune", "tensorboard", "wandb")
# Read before Ultralytics is imported: importing it sets OMP_NUM_THREADS=1 when unset.
ASKED_THREADS = os.environ.get("OMP_NUM_THREADS", "")
_module: ModuleType | None = None


def cpu_threads() -> int:
    """Threads for torch: ``OMP_NUM_THREADS`` when set (joblib sets it to cores / jobs), else every core."""
    if ASKED_THREADS.isdigit() and int(ASKED_THREADS) > 0:
        return int(ASKED_THREADS)
    return available_cores()


def use_threads(threads: int) -> None:
    """Train with exactly ``threads`` torch threads (Ultralytics' own device set-up applies the same number).

    On a CPU the result of training depends on the thread count, so a chain's
    thread count is a setting (``trainer.threads``), never the machine's.
    """
    import torch

    ultralytics()
    from ultralytics.utils import torch_utils

    torch_utils.NUM_THREADS = threads
    torch.set_num_threads(threads)


def ultralytics(config_dir: Path | None = None) -> ModuleType:
    """The ``ultralytics`` module, imported offline on first use."""
    global _module
    if _module is not None:
        return _module
    folder = Path(config_dir) if config_dir else Path(tempfile.mkdtemp(prefix="collapse_sim_ultralytics_"))
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_CONFIG_DIR", str(folder))
    os.environ.setdefault("YOLO_VERBOSE", "False")  # the run shows its own progress
    import ultralytics as module
    from PIL import Image
    from ultralytics.data import utils as data_utils
    from ultralytics.engine import trainer
    from ultralytics.utils import SETTINGS, patches, torch_utils

    SETTINGS.update({"sync": False, **{key: False for key in INTEGRATIONS}})
    torch_utils.NUM_THREADS = cpu_threads()
    trainer.check_amp = lambda model: True  # only reached when amp=True was asked for; never downloads
    Image.open = patches._image_open
    data_utils.check_font = lambda *args, **kwargs: None  # it probes the network even when the font exists
    _module = module
    return module
