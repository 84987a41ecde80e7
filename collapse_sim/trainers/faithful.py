"""When the refit closed forms apply: what the toy trainers' ``expected_curves`` check alike."""

from __future__ import annotations

from collapse_sim import theory
from collapse_sim.generators.refit_sample import RefitSampleGenerator
from collapse_sim.mixing import ReplaceMixing


def faithful_replace_refit(parts: theory.Components, source: type) -> bool:
    """Whether the run refits a model of ``source``'s kind and samples it as fitted (refit_sample at
    temperature 1, no top-p), training each generation on the last one's samples alone (replace)."""
    config = parts.config
    if not (
        theory.chosen(config, "generator", RefitSampleGenerator)
        and theory.chosen(config, "source", source)
        and theory.chosen(config, "mixing", ReplaceMixing)
    ):
        return False
    options = parts.generator.options
    return options["temperature"] == 1.0 and options["top_p"] is None
