"""The embedded detection world: procedurally rendered shape scenes with a long class tail."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import RealData, Source, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.scenes.dataset import DetectionSet
from collapse_sim.scenes.law import SceneLaw
from collapse_sim.scenes.render import SHAPES
from collapse_sim.sources.zipf import zipf_probabilities


@dataclass(frozen=True)
class DetectionTruth:
    """What metrics know about the real world: class names, real class shares, the law if known."""

    class_names: tuple[str, ...]
    class_shares: np.ndarray
    law: SceneLaw | None = None


def hue_slots(n_classes: int) -> np.ndarray:
    """Evenly spaced hue slots, the two nearest the commonest class's given to the next commonest.

    Order 0, 1, n-1, n/2, 2, n-2, 3, ...: no rare class shares a colour neighbourhood with
    the class that dominates the data, so rarity, not colour confusion, decides how rare
    classes fare.
    """
    order = [0, 1, n_classes - 1, n_classes // 2]
    for step in range(2, n_classes):
        order += [step, n_classes - step]
    slots = list(dict.fromkeys(s for s in order if 0 <= s < n_classes))
    return np.array(slots[:n_classes], dtype=float)


def world_law(
    n_classes: int, exponent: float, objects_per_image: float, rng: np.random.Generator
) -> SceneLaw:
    """The real scene law: Zipf class shares, per-class size, colour and position."""
    shapes = tuple(SHAPES)[:n_classes]
    hues = (hue_slots(n_classes) / n_classes + rng.uniform(-0.02, 0.02, n_classes)) % 1.0
    colours = np.array([colorsys.hsv_to_rgb(h, 0.8, 0.95) for h in hues]) * 255
    log_median = rng.uniform(np.log(0.22), np.log(0.36), n_classes)
    log_aspect = rng.normal(0.0, 0.15, n_classes)
    size_mean = np.stack([log_median + log_aspect / 2, log_median - log_aspect / 2], axis=1)
    spread = np.array([[1.0, 0.7], [0.7, 1.0]]) * 0.2**2  # sizes vary, w and h together
    return SceneLaw(
        count_mean=zipf_probabilities(n_classes, exponent) * objects_per_image,
        log_size_mean=size_mean,
        log_size_cov=np.tile(spread, (n_classes, 1, 1)),
        position_mean=rng.uniform(0.35, 0.65, (n_classes, 2)),
        position_std=np.full((n_classes, 2), 0.2),
        colour_mean=colours,
        colour_std=np.full((n_classes, 3), 15.0),
        shapes=shapes,
    )


class ShapesSource(Source):
    """Scenes of ``n_classes`` shapes whose shares follow p_i ~ i^-exponent (class 0 commonest).

    The world (per-class sizes, colours, positions) and every image are fixed
    by the seed; the training pool and the test set are separate draws.
    """

    provides = data_of("detection") | {"scene law"}

    def __init__(
        self,
        *,
        pool_size: int,
        test_size: int = 200,
        n_classes: int = 8,
        exponent: float = 1.0,
        image_size: int = 64,
        objects_per_image: float = 4.0,
    ) -> None:
        self.n_classes = positive_int("n_classes", n_classes, minimum=2)
        if n_classes > len(SHAPES):
            raise ConfigError(
                "n_classes", f"must be at most {len(SHAPES)} (one per shape: {', '.join(SHAPES)})"
            )
        if not exponent >= 0:
            raise ConfigError("exponent", f"must be >= 0 (0 = equally common classes), got {exponent!r}")
        if not 0 < objects_per_image <= 10:
            raise ConfigError(
                "objects_per_image", f"must be in (0, 10] (mean objects per image), got {objects_per_image!r}"
            )
        self.names = tuple(SHAPES)[:n_classes]  # the world law's class names, in id order
        self.pool_size = positive_int("pool_size", pool_size)
        self.test_size = positive_int("test_size", test_size)
        self.image_size = positive_int("image_size", image_size, minimum=32)
        self.sample_bytes = self.image_size**2 * 3  # an RGB image
        self.exponent = exponent
        self.objects_per_image = objects_per_image

    def load(self, rng: np.random.Generator) -> RealData:
        """The world law, a training pool and a separate test set, all from ``rng``."""
        law = world_law(self.n_classes, self.exponent, self.objects_per_image, rng)
        names = law.shapes

        def draw(n: int, draw_rng: np.random.Generator) -> DetectionSet:
            return DetectionSet.real(*law.render(n, self.image_size, draw_rng), names)

        train, test = draw(self.pool_size, rng), draw(self.test_size, rng)
        shares = train.class_counts() / max(train.class_counts().sum(), 1)
        return RealData(train, test, DetectionTruth(names, shares, law), draw)
