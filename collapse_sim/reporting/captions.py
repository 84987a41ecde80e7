"""What each plot of a run's or a sweep's page shows, and over how many chains (its caption)."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from collapse_sim.reporting.axes import FAINT_CHAINS, MIN_SPAN
from collapse_sim.reporting.intervals import MIN_CHAINS
from collapse_sim.sweep import chains_per_arm, seeds_of
from collapse_sim.variables import figures

HONEST = (
    f"A y-axis spans at least {MIN_SPAN * 100:.0f} % of the largest value it shows, so a change is drawn "
    "as large as it is."
)


def _chains(n: int) -> str:
    if n > FAINT_CHAINS:  # only the first are drawn: the caption says so
        return (
            f"the first {FAINT_CHAINS} of the {n} chains faint, the mean of all {n} bold and its 95 % "
            "interval (Student t) shaded"
        )
    if n >= MIN_CHAINS:
        return f"each of the {n} chains faint, their mean bold and its 95 % interval (Student t) shaded"
    if n > 1:
        return f"the {n} chains faint and their mean (fewer than {MIN_CHAINS} chains: no interval)"
    return "the run's one chain"


def chains_phrase(ds: xr.Dataset) -> str:
    """``mean of 4 chains`` or ``one chain``: what a declared caption's ``{chains}`` stands for."""
    n = ds.sizes.get("replicate", 1)
    return f"mean of {n} chains" if n > 1 else "one chain"


def _declared(path: Path, ds: xr.Dataset):
    """The figure a variable declares for the file at ``path`` (matched by the file's name), or None."""
    return next((f for _, f in figures(ds) if f.file == Path(path).stem), None)


def run_caption(path: Path, ds: xr.Dataset) -> str:
    """The caption of one of a run's plots: the curves' and kept pictures' are the report's own, every
    other is the one its variable declares (``variables.Figure``)."""
    n = ds.sizes.get("replicate", 1)
    stem = Path(path).stem
    if stem == "curves":
        return (
            f"Each key variable per generation: {_chains(n)}; dashed, where theory gives one, the expected "
            f"value. {HONEST}"
        )
    if stem == "crops":
        from collapse_sim.reporting.crops import CROPS_TITLE, grid_title

        title = grid_title(Path(path).parent)
        if title != CROPS_TITLE:
            return f"{title[0].upper()}{title[1:]}, generation by generation."
        return "Each class's object crops in the training images, generation by generation (chain 0)."
    declared = _declared(path, ds)
    if declared is not None:
        return declared.caption.format(chains=chains_phrase(ds))
    return stem.replace("_", " ")


def sweep_caption(path: Path, ds: xr.Dataset, arms: str | None) -> str:
    """The caption of one of a sweep's plots; ``arms``: the swept setting the colours are."""
    n = chains_per_arm(ds)
    pooled = " (seeds pooled)" if seeds_of(ds) > 1 else ""  # said only where seeds were swept
    stem = Path(path).stem
    if stem == "dose_response":
        from collapse_sim.reporting.sweep import dose_setting  # here: a run page needs no sweep report

        setting, held = dose_setting(ds)
        at = ", with " + ", ".join(f"{d}={v}" for d, v in held.items()) if held else ""
        return (
            f"Each key variable at the last generation (top) and its change per generation (bottom) against "
            f"{setting}{at}: mean and 95 % interval over {n} chains at each value{pooled}."
        )
    if stem.startswith("sweep_"):
        name = stem.removeprefix("sweep_")
        each = f"each value of {arms}" if arms else "the sweep"
        return (
            f"{name} per generation for {each}: the mean of its {n} chains{pooled} and its 95 % "
            f"interval; one panel per combination of the other swept settings. {HONEST}"
        )
    declared = _declared(path, ds)
    if declared is not None:  # one panel per arm
        return declared.caption.format(chains=f"mean of {n} chains per arm{pooled}")
    return stem.replace("_", " ")
