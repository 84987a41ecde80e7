"""Maximum-likelihood class frequencies."""

from __future__ import annotations

import numpy as np

from collapse_sim.components import Trainer, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.models.categorical import CategoricalModel, class_counts
from collapse_sim.samples import Samples
from collapse_sim.sources.zipf import class_names


class CategoricalFitTrainer(Trainer):
    """Class probabilities = observed frequencies (a class never seen gets probability 0); with sample
    weights, each class's share of the total weight."""

    needs = data_of("categorical")
    provides = frozenset({"model sampling", "sample weights"})  # refit_sample; mixing=weighted
    sampling_options = CategoricalModel.sampling_options

    @classmethod
    def expected_curves(cls, config: dict) -> dict[str, np.ndarray]:
        """E[Gini-Simpson] and E[surviving classes] of faithful refits of a Zipf(-Mandelbrot) law under
        replace (Wright-Fisher drift); with lineages, E[surviving classes] of a lineage and of the pool."""
        from collapse_sim import theory
        from collapse_sim.sources.zipf import ZipfSource
        from collapse_sim.trainers.faithful import faithful_replace_refit

        parts = theory.Components(config)  # built once, read by the check and the closed form
        if not faithful_replace_refit(parts, ZipfSource):
            return {}
        if parts.generator.options["top_k"] is not None:
            return {}
        probs, g, n = parts.source.truth.probs[0], parts.generations, parts.n_samples
        lineages = int(config.get("lineages", 1))
        if lineages > 1:  # an ecosystem: each lineage's classes and the pool's (their union)
            return theory.lineage_surviving_expected(g, n=n, lineages=lineages, probs=probs)
        return {
            "gini_simpson": theory.gini_simpson_expected(g, n=n, probs=probs),
            "surviving_classes": theory.surviving_classes_expected(g, n=n, probs=probs),
        }

    def __init__(self, *, n_classes: int) -> None:
        if n_classes < 2:
            raise ConfigError("n_classes", f"must be >= 2, got {n_classes!r}")
        self.class_names = class_names(n_classes)

    def fit(self, data: Samples, *, init=None, rng=None, generation: int = 0) -> CategoricalModel:
        """Frequencies per replicate; ``init`` and ``rng`` are unused."""
        counts = class_counts(data["label"], len(self.class_names), weights=data.fit_weights())
        return CategoricalModel(counts / counts.sum(axis=1, keepdims=True), self.class_names)
