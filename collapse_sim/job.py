"""One way to turn a composed configuration into a checked, built job.

The command line (each job of a command), ``cs.run`` and the tests all call
``build_job``; nothing else validates and builds.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig

from collapse_sim.build import build, build_loggers
from collapse_sim.config import option_dirs, validate
from collapse_sim.config_tree import GROUPS
from collapse_sim.simulation import Simulation


@dataclass(frozen=True)
class Job:
    """A job as validated and built: its resolved configuration, simulation, trackers, and what Hydra
    recorded of how it was chosen (every group's option, the command line's overrides)."""

    resolved: dict
    sim: Simulation
    loggers: dict
    choices: dict[str, str]
    overrides: list[str]


def build_job(cfg: DictConfig, hydra: DictConfig | None = None) -> Job:
    """Validate and build a composed job. ``hydra`` is its ``hydra`` node when ``cfg`` has none (the
    configuration a Hydra task function receives)."""
    hydra = cfg.hydra if hydra is None else hydra
    resolved = validate(cfg)
    choices = {k: v for k, v in hydra.runtime.choices.items() if v is not None}
    in_groups = {k: v for k, v in choices.items() if k in GROUPS}
    sim = build(resolved, in_groups, option_dirs=option_dirs(hydra.searchpath))
    return Job(resolved, sim, build_loggers(resolved), choices, list(hydra.overrides.task))
