"""Report a run to TensorBoard: event files under ``<run dir>/tensorboard/``.

Scalars are tagged ``chain_00/map50`` and ``mean/map50`` with the generation as
the step, so TensorBoard groups each chain's curves and the mean in their own
sections; the resolved config and overrides are text; the plots are images
at the end, and the report's path is text. Once the run is complete its
settings go to the HParams dashboard (every config value, with the key
variables' means as its metrics), so ``tensorboard --logdir outputs`` compares
runs by setting. A resumed run appends to the same folder, which TensorBoard
reads as one run.
"""

from __future__ import annotations

from pathlib import Path

from collapse_sim.components import Tracker
from collapse_sim.loggers import require

FOLDER = "tensorboard"
HPARAMS_WRITTEN = ".hparams_written"  # in the event folder: a run's settings go to HParams once


class TensorBoardLogger(Tracker):
    """Log every generation's scalars, the config, and the plots, as TensorBoard events."""

    def __init__(self) -> None:
        require("tensorboard", "", "TensorBoard")
        self.writer = None

    def start(self, run_dir: Path, *, name: str, config: dict, overrides: list[str]) -> None:
        """Open the event writer (appending when the run resumes) and record the settings once."""
        import yaml
        from torch.utils.tensorboard import SummaryWriter

        folder = Path(run_dir) / FOLDER
        resumed = folder.is_dir() and any(folder.iterdir())
        self.writer = SummaryWriter(log_dir=str(folder))
        self.folder, self.hparams = folder, _hparams(config, overrides)
        if not resumed:
            text = yaml.safe_dump(config, sort_keys=False)
            self.writer.add_text("config", "```\n" + text + "\n```", 0)
            self.writer.add_text("overrides", " ".join(overrides) or "(none)", 0)
            self.writer.add_text("name", name, 0)

    def log(self, generation: int, values: dict[str, float]) -> None:
        """One point per tag at step ``generation``."""
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, generation)
        self.writer.flush()

    def finish(self, files: list[Path], key: dict[str, float]) -> None:
        """The PNG plots as images, any other file (the HTML report) by its path, the settings and key
        variables to HParams (once); then close."""
        import numpy as np
        from PIL import Image
        from torch.utils.tensorboard.summary import hparams

        marker = self.folder / HPARAMS_WRITTEN
        if key and not marker.exists():
            for summary in hparams(self.hparams, key):  # experiment, session start, session end
                self.writer.file_writer.add_summary(summary)
            marker.touch()

        for path in files:
            if Path(path).suffix == ".png":
                image = np.asarray(Image.open(path).convert("RGB"))
                self.writer.add_image(f"plots/{Path(path).stem}", image, dataformats="HWC")
            else:
                self.writer.add_text(f"files/{Path(path).name}", str(Path(path).resolve()))
        self.writer.close()


def _hparams(config: dict, overrides: list[str]) -> dict:
    """Every config value as an HParams setting (numbers and text; anything else as its text)."""
    from collapse_sim.config_tree import flatten_config

    flat = flatten_config(config) | {"overrides": " ".join(overrides) or "(none)"}
    return {k: v if isinstance(v, bool | int | float | str) else str(v) for k, v in flat.items()}
