"""Report a run to Weights & Biases: offline by default, inside the run directory.

One W&B run per collapse_sim run (project ``logger.wandb.project``, else the
run's ``name``); chains are metric prefixes (``chain_00/map50``,
``mean/map50``) as in the MLflow logger, and ``step`` is the generation. The
mode is ``logger.wandb.mode``, else the user's ``WANDB_MODE``, else
``offline``: the run is written under ``<run dir>/wandb/`` and nothing touches
the network until ``wandb sync`` uploads it. A resumed run reuses the W&B run
id kept in ``wandb_run_id.txt``. Offline, W&B cannot reopen a run
(wandb/wandb#3841) and a killed process leaves its offline file unflushed, so
a resume writes a new offline folder with the same id holding every completed
generation once: ``wandb sync`` the newest one. Online, a resume continues
the same run and logs the generations not yet logged.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from collapse_sim.checkpoints import atomic_write
from collapse_sim.components import Tracker
from collapse_sim.config_tree import flatten_config
from collapse_sim.errors import ConfigError
from collapse_sim.loggers import require, sweep_of

RUN_ID_FILE = "wandb_run_id.txt"
MODES = ("offline", "online")


class WandbLogger(Tracker):
    """Log every generation's scalars, the resolved config and overrides, and the plots and report."""

    def __init__(
        self, *, mode: str | None = None, project: str | None = None, entity: str | None = None
    ) -> None:
        require("wandb", "", "Weights & Biases (wandb)")
        chosen = mode or os.environ.get("WANDB_MODE") or "offline"
        if chosen not in MODES:
            where = "mode" if mode else "mode (from WANDB_MODE)"
            raise ConfigError(
                where, f"is {chosen!r}; collapse_sim logs to W&B offline (the default) or online"
            )
        self.mode, self.project, self.entity = chosen, project, entity
        self.replays_on_resume = chosen == "offline"  # each offline folder holds the whole history
        self.run = None

    def start(self, run_dir: Path, *, name: str, config: dict, overrides: list[str]) -> None:
        """Open (or, resuming, reopen) this run's W&B run and record its settings."""
        import wandb

        run_dir = Path(run_dir).resolve()
        kept = run_dir / RUN_ID_FILE
        run_id = kept.read_text().strip() if kept.exists() else secrets.token_hex(4)  # W&B: 8 characters
        if not kept.exists():
            atomic_write(kept, lambda file: file.write(f"{run_id}\n".encode()))
        sweep = sweep_of(run_dir)  # a sweep's jobs are one W&B group
        self.run = wandb.init(
            project=self.project or name,
            entity=self.entity,
            name=f"{sweep.name}/{run_dir.name}" if sweep else run_dir.name,
            group=sweep.name if sweep else None,
            id=run_id,
            resume="allow",
            dir=str(run_dir),
            mode=self.mode,
            config={**flatten_config(config), "overrides": " ".join(overrides) or "(none)"},
            settings=wandb.Settings(silent=True, console="off", x_disable_stats=True, x_disable_meta=True),
            reinit="create_new",
        )

    def log(self, generation: int, values: dict[str, float]) -> None:
        """One history row at step ``generation``."""
        self.run.log(values, step=generation)

    def finish(self, files: list[Path], key: dict[str, float]) -> None:
        """The PNG plots as images and the HTML report as a page, then close the run."""
        import wandb

        media = {}
        for path in map(Path, files):
            if path.suffix == ".png":
                media[f"plots/{path.stem}"] = wandb.Image(str(path))
            elif path.suffix == ".html":
                media[f"report/{path.stem}"] = wandb.Html(path.read_text())
        if media:
            self.run.summary.update(media)
        self.run.finish()
