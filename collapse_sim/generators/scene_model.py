"""Refit a scene model to the generation's labelled images and render new ones from it."""

from __future__ import annotations

import numpy as np

from collapse_sim.components import Generator
from collapse_sim.errors import ConfigError
from collapse_sim.scenes.dataset import DetectionSet
from collapse_sim.scenes.law import COLOUR_ESTIMATES, fit_law


class SceneModelGenerator(Generator):
    """The generative model of a detection pipeline: fit, then sample ``n`` new labelled scenes.

    It fits the mean count of each class per image and per-class size,
    position and colour distributions (maximum likelihood) to the
    generation's *labels* (``colour_estimate``: a class's colour read at its box
    centres, ``centre``, or from each object's own rendered pixels, ``mask``), then
    renders ``n`` images.  ``temperature`` T samples from p^(1/T): class
    shares sharpen and spreads shrink (variance times T) for T < 1;
    ``top_p`` drops the rarest classes outside the top ``top_p`` mass.
    ``fit_images`` refits the law to that many images drawn at random from
    the generation's data (null: all of it), for a generator that learns from
    fewer examples than the detector sees.  Images are rendered with the
    real world's outlines, so it needs a source that has them (``source=shapes``).
    """

    needs = frozenset({"scene law"})

    def __init__(
        self,
        *,
        n: int,
        temperature: float = 1.0,
        top_p: float | None = None,
        fit_images: int | None = None,
        colour_estimate: str = "centre",
    ) -> None:
        if colour_estimate not in COLOUR_ESTIMATES:
            raise ConfigError(
                "colour_estimate",
                f"must be centre (pixels at box centres, where neighbours and background show) or mask "
                f"(each object's own pixels), got {colour_estimate!r}",
            )
        self.colour_estimate = colour_estimate
        if not (isinstance(n, int) and n >= 1):
            raise ConfigError("n", f"must be an integer >= 1 (it defaults to n_samples), got {n!r}")
        if not temperature > 0:
            raise ConfigError("temperature", f"must be > 0 (1 = faithful sampling), got {temperature!r}")
        if top_p is not None and not 0 < top_p <= 1:
            raise ConfigError("top_p", f"must be null or in (0, 1], got {top_p!r}")
        if fit_images is not None and not (isinstance(fit_images, int) and fit_images >= 1):
            raise ConfigError(
                "fit_images", f"must be null (fit to every image) or an integer >= 1, got {fit_images!r}"
            )
        self.n, self.temperature, self.top_p, self.fit_images = n, temperature, top_p, fit_images

    def generate(
        self, model, data: DetectionSet, generation: int, rng: np.random.Generator, *, real
    ) -> DetectionSet:
        """``n`` scenes rendered from the law fitted to ``data``'s labels."""
        law = real.truth.law
        if law is None:
            raise ConfigError(
                "generator",
                "scene_model renders the procedural shapes of source=shapes and cannot draw this source's "
                "classes; use generator=pseudo_label with source=yolo_dataset",
            )
        if self.fit_images is not None and self.fit_images < len(data):
            data = data.take(np.sort(rng.choice(len(data), self.fit_images, replace=False)))
        fitted = fit_law(data.images, data.labels, law.shapes, colour_estimate=self.colour_estimate)
        fitted = fitted.sharpened(self.temperature, self.top_p)
        images, labels = fitted.render(self.n, data.image_size, rng)
        return DetectionSet.made_by(generation, images, labels, labels, data.names)
