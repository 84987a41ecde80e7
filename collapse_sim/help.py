"""``python -m collapse_sim --help``: the commands a user types, and every group's options from the
config folders (so the page never lists an option that is not there, nor misses one)."""

from __future__ import annotations

from pathlib import Path

from collapse_sim.config import TOP_LEVEL, option_dirs
from collapse_sim.config_tree import GROUPS

COMMANDS = """\
collapse_sim: models trained, generation after generation, on what earlier models made.

usage: python -m collapse_sim [GROUP=OPTION] [KEY=VALUE ...]

  python -m collapse_sim                          the default run: a small YOLO detection simulation
  python -m collapse_sim +experiment=tail_loss    a ready-made experiment (listed below)
  python -m collapse_sim +debug=default ...       any run at a tiny size, to check it in seconds
  python -m collapse_sim -m mixing=replace,accumulate seed=0,1
                                                  a sweep: one job per combination (Hydra multirun)
  python -m collapse_sim resume=last              finish the last stopped run or sweep (or resume=DIR)
  collapse-sim-report SWEEP_DIR                   a sweep's tables, plots and sweep.html

Runs go to outputs/runs/<name>/<time>/ (results.zarr, plots, report.html); sweeps to
outputs/multirun/<name>/<time>/. Read them with collapse_sim.open_run and open_sweep.
"""
FOOTER = """\
--cfg job prints the composed configuration without running; --hydra-help lists Hydra's own flags.
The README (Configuration, Experiments, Sweeps and clusters) describes every setting."""
WIDTH = 100


def options(group: str, searchpath=()) -> list[str]:
    """The options of ``group``: one YAML file each, in the package's config folder or a user's."""
    return sorted({p.stem for d in option_dirs(searchpath) for p in Path(d, group).glob("*.yaml")})


def _wrapped(label: str, names: list[str]) -> list[str]:
    lines, line = [], f"  {label:<11}"
    for i, name in enumerate(names):
        word = name + ("," if i < len(names) - 1 else "")
        if len(line) + len(word) + 1 > WIDTH:
            lines.append(line.rstrip())
            line = " " * 13
        line += word + " "
    return [*lines, line.rstrip()]


def help_page(searchpath=()) -> str:
    """The whole page."""
    lines = [COMMANDS, "experiments (+experiment=NAME):", *_wrapped("", options("experiment", searchpath))]
    lines += ["", "groups (GROUP=OPTION; an option's settings are GROUP.KEY=VALUE, see --cfg job):"]
    for group in GROUPS:
        lines += _wrapped(f"{group}:", options(group, searchpath))
    settings = list(TOP_LEVEL[: TOP_LEVEL.index("source")])  # the groups follow them
    lines += ["", "top-level settings (KEY=VALUE):", *_wrapped("", settings)]
    return "\n".join([*lines, "", FOOTER])
