"""Resuming without bookkeeping: ``resume=last`` and ``resume=DIR`` take a run's (or a sweep's)
configuration from its own record, and a stopped run says what it kept.

A run's record is Hydra's: ``.hydra/overrides.yaml`` (the command's overrides)
and ``.hydra/hydra.yaml`` (the folders of the user's own configs); a sweep's is
its ``multirun.yaml``. ``resume=never`` starts a new run even where an
unfinished run of exactly the same configuration exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from collapse_sim.config_tree import RESULT_NEUTRAL, config_differences
from collapse_sim.errors import ConfigError

KEY = "resume"
NEVER, LAST = "never", "last"
USER_CONFIGS = ("command-line", "hydra.searchpath in command-line")  # Hydra's providers of --config-dir


def split(args: list[str]) -> tuple[str | None, list[str]]:
    """The ``resume=`` value (``+resume=`` too) and the other arguments."""
    value, rest = None, []
    for arg in args:
        key, sep, given = arg.lstrip("+").partition("=")
        if sep and key == KEY:
            value = given
        else:
            rest.append(arg)
    return value, rest


@dataclass(frozen=True)
class Record:
    """What a run or sweep folder says of how it was started."""

    folder: Path
    sweep: bool
    overrides: list[str]  # the command's own (task) overrides
    config_dirs: list[str]  # folders of the user's own configs (--config-dir or hydra.searchpath)


def record(folder: Path) -> Record | None:
    """The record of a run folder (``.hydra/``) or a sweep folder (``multirun.yaml``); None if neither."""
    folder = Path(folder)
    if (folder / "multirun.yaml").is_file():
        hydra = (yaml.safe_load((folder / "multirun.yaml").read_text()) or {}).get("hydra", {})
        sweep = True
    elif (folder / ".hydra" / "hydra.yaml").is_file():
        hydra = (yaml.safe_load((folder / ".hydra" / "hydra.yaml").read_text()) or {}).get("hydra", {})
        sweep = False
    else:
        return None
    sources = hydra.get("runtime", {}).get("config_sources", [])
    dirs = [s["path"] for s in sources if s.get("provider") in USER_CONFIGS and s.get("schema") == "file"]
    return Record(folder, sweep, list(hydra.get("overrides", {}).get("task", [])), dirs)


def command(rec: Record, extra: list[str] = ()) -> list[str]:
    """The command line (without the program) that continues ``rec`` in its own folder."""
    searched = (
        [f"hydra.searchpath=[{','.join(f'file://{d}' for d in rec.config_dirs)}]"] if rec.config_dirs else []
    )
    where = f"hydra.sweep.dir={rec.folder}" if rec.sweep else f"hydra.run.dir={rec.folder}"
    return [*(["-m"] if rec.sweep else []), *searched, *rec.overrides, *extra, where]


def resume_command(folder: Path) -> str:
    """What a user types to continue the run or sweep in ``folder``."""
    return f"python -m collapse_sim resume={Path(folder).absolute()}"


def reproduce_command(rec: Record) -> str:
    """What a user types to run the same configuration again, into a new folder."""
    searched = [f"--config-dir {d}" for d in rec.config_dirs]
    return " ".join(["python -m collapse_sim", *(["-m"] if rec.sweep else []), *searched, *rec.overrides])


def unfinished(folder: Path) -> bool:
    """A run folder whose store exists and holds an incomplete generation (or a sweep with such a job)."""
    from collapse_sim.locations import exists, store_location

    folder = Path(folder)
    if (folder / "multirun.yaml").is_file():
        jobs = [p for p in folder.iterdir() if (p / ".hydra").is_dir()]
        return any(unfinished(job) or not exists(store_location(job)) for job in jobs)
    location = store_location(folder)
    if not exists(location):
        return (folder / ".hydra").is_dir()  # stopped before its store was made
    import zarr

    try:
        return not bool(zarr.open_group(str(location), mode="r")["completed"][:].all())
    except Exception:  # unreadable: not one to resume
        return False


def last_unfinished(parent: Path, sweep: bool) -> Path | None:
    """The newest unfinished run (or sweep) folder in ``parent`` (the folder runs of this name go to)."""
    parent = Path(parent)
    if not parent.is_dir():
        return None
    marker = "multirun.yaml" if sweep else ".hydra"
    candidates = sorted(
        (p for p in parent.iterdir() if (p / marker).exists()), key=lambda p: p.name, reverse=True
    )
    return next((p for p in candidates if unfinished(p)), None)


def expand(value: str, rest: list[str]) -> tuple[list[str], Record | None]:
    """The arguments a ``resume=`` command stands for, and the record of the run or sweep it continues
    (None for ``resume=never``); a ConfigError when there is nothing to resume. ``resume=last`` composes
    the command once to find where its runs go; ``resume=DIR`` composes nothing."""
    from collapse_sim.hydra_bridge import compose_explained, parse_command_line, with_search_path

    parsed = parse_command_line(rest)
    if value == NEVER:
        return rest, None
    if value == LAST:
        overrides = with_search_path(list(parsed.overrides), [parsed.config_dir] if parsed.config_dir else [])
        cfg = compose_explained([o for o in overrides if "," not in o.partition("=")[2]])
        key = "hydra.sweep.dir" if parsed.multirun else "hydra.run.dir"
        parent = Path(str(_select(cfg, key))).parent
        folder = last_unfinished(parent, parsed.multirun)
        if folder is None:
            what = "sweep" if parsed.multirun else "run"
            raise ConfigError(
                KEY,
                f"is last, but {parent.absolute()} holds no unfinished {what} of {cfg.name}; give the folder "
                f"(resume=DIR), or drop resume= to start a new {what}",
            )
    else:
        folder = Path(value)
    if not folder.is_dir():
        raise ConfigError(
            KEY,
            f"{folder.absolute()} does not exist; give the folder a run or sweep wrote (the summary of "
            "each run names it as its store's), or resume=last",
        )
    rec = record(folder)
    if rec is None:
        raise ConfigError(
            KEY,
            f"{folder.absolute()} is not a run folder (.hydra/) nor a sweep folder (multirun.yaml); give the "
            "folder a run or sweep wrote, or resume=last",
        )
    return command(rec, list(parsed.overrides)), rec


def refuse_changes(rec: Record, overrides: list[str], cfg, resolved: dict) -> None:
    """A ConfigError when the ``overrides`` added to a ``resume=`` command would change the results of
    the run (or the sweep's job) it continues: the job composed from them (``cfg``, ``resolved``) against
    the configuration its store holds."""
    given = {o.lstrip("+~").partition("=")[0] for o in overrides if o not in rec.overrides}
    if all(g.startswith("hydra.") for g in given):
        return
    folder = rec.folder
    if rec.sweep:  # the job's own folder in the sweep's
        folder = Path(str(_select(cfg, "hydra.sweep.dir"))) / str(_select(cfg, "hydra.sweep.subdir"))
    stored = _stored_config(folder)
    changed = config_differences(stored, resolved) if stored is not None else []
    changed = [k for k in changed if any(k == g or k.startswith(f"{g}.") for g in given)] or changed
    if changed:
        raise ConfigError(
            KEY,
            f"takes the configuration from {rec.folder}'s own record; {', '.join(changed)} would change "
            "its results, so resuming with it is refused. Drop it, or start a new run without resume= "
            f"({', '.join(RESULT_NEUTRAL)} may change on a resume)",
        )


def _select(cfg, key: str):
    from omegaconf import OmegaConf

    return OmegaConf.select(cfg, key)


def kept(run_dir: Path) -> str:
    """What a stopped run keeps: ``generations 0-2 of chain 0 and generations 0-1 of chain 1 (of 5)
    are kept in STORE``."""
    import numpy as np
    import zarr

    from collapse_sim.locations import exists, store_location

    location = store_location(run_dir)
    if not exists(location):
        return "no generation was complete, so nothing is kept"
    group = zarr.open_group(str(location), mode="r")
    total = group["completed"].shape[0]
    if "chain_completed" in group:
        done = np.asarray(group["chain_completed"][:], dtype=bool)
        if not done.any():
            return "no generation was complete, so nothing is kept"
        parts = [f"{_span(done[:, c])} of chain {c}" for c in range(done.shape[1])]
        listed = ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else parts[0]
        return f"{listed} (of {total}) are kept in {location}"
    done = np.asarray(group["completed"][:], dtype=bool)
    if not done.any():
        return "no generation was complete, so nothing is kept"
    return f"{_span(done)} of {total} {'is' if done.sum() == 1 else 'are'} kept in {location}"


def _span(done) -> str:
    n = int(done.sum())
    if n == 0:
        return "no generation"
    return "generation 0" if n == 1 else f"generations 0-{n - 1}"


def _chose_folder(cfg, key: str) -> bool:
    """Whether the command named its run or sweep folder itself (``hydra.run.dir=...``)."""
    return any(o.partition("=")[0] == key for o in cfg.hydra.overrides.hydra)


def refuse_a_twin(command) -> None:
    """A new run (or sweep) of exactly the configuration of an unfinished one says so before any work and
    names the resume= command, instead of silently starting over in a new folder."""
    if not command.jobs:
        return
    _, cfg, job = command.jobs[0]
    key = "hydra.sweep.dir" if command.parsed.multirun else "hydra.run.dir"
    if _chose_folder(cfg, key):
        return
    parent = Path(str(_select(cfg, key))).parent
    twin = None
    if not parent.is_dir():
        return
    for folder in sorted(parent.iterdir(), key=lambda p: p.name, reverse=True):
        rec = record(folder)
        if rec is None or rec.sweep != command.parsed.multirun or not unfinished(folder):
            continue
        if rec.sweep:
            same = rec.overrides == list(command.sweep.hydra.overrides.task)
        else:
            stored = _stored_config(folder)
            same = stored is not None and not config_differences(stored, job.resolved)
        if same:
            twin = folder
            break
    if twin is not None:
        what = "sweep" if command.parsed.multirun else "run"
        left = "" if command.parsed.multirun else f" ({kept(twin)})"
        raise ConfigError(
            KEY,
            f"an unfinished {what} of exactly this configuration is in {twin.absolute()}{left}; start a "
            f"new {what} anyway with resume=never, or resume it with:",
            command=resume_command(twin),
        )


def _stored_config(folder: Path) -> dict | None:
    import zarr

    from collapse_sim.locations import exists, store_location

    location = store_location(folder)
    if not exists(location):
        return None
    try:
        return dict(zarr.open_group(str(location), mode="r").attrs)["config"]
    except Exception:
        return None
