"""What each plot of a run's or a sweep's page shows, and over how many chains (its caption)."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from collapse_sim.reporting.axes import MIN_SPAN
from collapse_sim.reporting.intervals import MIN_CHAINS

HONEST = (
    f"A y-axis spans at least {MIN_SPAN * 100:.0f} % of the largest value it shows, so a change is drawn "
    "as large as it is."
)


def _chains(n: int) -> str:
    if n >= MIN_CHAINS:
        return f"each of the {n} chains faint, their mean bold and its 95 % interval (Student t) shaded"
    if n > 1:
        return f"the {n} chains faint and their mean (fewer than {MIN_CHAINS} chains: no interval)"
    return "the run's one chain"


def run_caption(path: Path, ds: xr.Dataset) -> str:
    """The caption of one of a run's plots (its file decides what it shows)."""
    n = ds.sizes.get("replicate", 1)
    mean = f"mean of {n} chains" if n > 1 else "one chain"
    stem = Path(path).stem
    if stem == "curves":
        return (
            f"Each key variable per generation: {_chains(n)}; dashed, where theory gives one, the expected "
            f"value. {HONEST}"
        )
    if stem == "class_frequency":
        return f"Each class's share of the training data per generation, log10 colour scale ({mean})."
    if stem == "class_share":
        return (
            f"The share of each generation's drawn images that the frozen real-data classifier puts in each "
            f"class, log10 colour scale ({mean}): a class that fades is a class the models stop drawing."
        )
    if stem == "ap_per_class":
        return (
            f"AP50-95 of each class on the fixed real test set per generation ({mean}); the rarest quarter's "
            "classes bold, mAP50-95 dashed; the axis starts at 0."
        )
    if stem == "judged_by_generation_0":
        return (
            f"Each generation's training passages scored by the chain's generation-0 model, in bits per "
            f"character ({mean}; colours from the first generation to the last): the mass moving left is "
            "text the first model finds likely, a tail growing right is text it finds improbable "
            "(Shumailov et al. 2024, Figure 1)."
        )
    if stem == "crops":
        from collapse_sim.reporting.crops import CROPS_TITLE, grid_title

        title = grid_title(Path(path).parent)
        if title != CROPS_TITLE:
            return f"{title[0].upper()}{title[1:]}, generation by generation."
        return "Each class's object crops in the training images, generation by generation (chain 0)."
    if stem == "samples":
        return "Training images of chain 0, first and last generation, with their labels."
    return stem.replace("_", " ")


def sweep_caption(path: Path, ds: xr.Dataset, arms: str | None) -> str:
    """The caption of one of a sweep's plots; ``arms``: the swept setting the colours are."""
    n = ds.sizes.get("replicate", 1) * ds.sizes.get("seed", 1)
    stem = Path(path).stem
    if stem == "dose_response":
        return (
            f"Each key variable at the last generation (top) and its change per generation (bottom) against "
            f"{arms}: mean and 95 % interval over {n} chains at each value (seeds pooled)."
        )
    if stem == "judged_by_generation_0":
        return (
            f"Each arm's training passages scored by each chain's generation-0 model, in bits per character "
            f"(mean of {n} chains; colours from the first generation to the last; Shumailov et al. 2024, "
            "Figure 1)."
        )
    if stem.startswith("sweep_"):
        name = stem.removeprefix("sweep_")
        each = f"each value of {arms}" if arms else "the sweep"
        return (
            f"{name} per generation for {each}: the mean of its {n} chains (seeds pooled) and its 95 % "
            f"interval; one panel per combination of the other swept settings. {HONEST}"
        )
    return stem.replace("_", " ")
