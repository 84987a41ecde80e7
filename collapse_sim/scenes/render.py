"""Draw labelled scenes: filled shapes on textured backgrounds (numpy + PIL, no files)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def _regular(n: int, *, star: bool = False) -> np.ndarray:
    """A regular polygon (or star) with a vertex on top, before fitting to the unit box."""
    count = 2 * n if star else n
    angles = -np.pi / 2 + 2 * np.pi * np.arange(count) / count
    radius = np.where(np.arange(count) % 2, 0.45, 1.0) if star else np.ones(count)
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


def _fit_unit_box(points: np.ndarray) -> np.ndarray:
    """Scale a polygon so its bounding box is exactly [0, 1]^2 (labels are tight boxes)."""
    low, high = points.min(axis=0), points.max(axis=0)
    return (points - low) / (high - low)


# Every outline is filled and covers the centre of its box, so a box's centre pixel shows its colour.
SHAPES: dict[str, np.ndarray | None] = {
    "circle": None,  # drawn as an ellipse
    "square": np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float),
    "triangle": np.array([[0.5, 0], [1, 1], [0, 1]], dtype=float),
    "diamond": np.array([[0.5, 0], [1, 0.5], [0.5, 1], [0, 0.5]], dtype=float),
    "cross": np.array(
        [[1, 0], [2, 0], [2, 1], [3, 1], [3, 2], [2, 2], [2, 3], [1, 3], [1, 2], [0, 2], [0, 1], [1, 1]],
        dtype=float,
    )
    / 3,
    "star": _fit_unit_box(_regular(5, star=True)),
    "hexagon": _fit_unit_box(_regular(6)),
    "pentagon": _fit_unit_box(_regular(5)),
    "trapezoid": np.array([[0.25, 0], [0.75, 0], [1, 1], [0, 1]], dtype=float),
    "ell": np.array([[0, 0], [0.6, 0], [0.6, 0.4], [1, 0.4], [1, 1], [0, 1]], dtype=float),
}


def background(size: int, rng: np.random.Generator) -> np.ndarray:
    """A muted, textured background: a smooth colour field plus fine grain."""
    base = rng.uniform(70, 170) + rng.normal(0, 12, size=3)
    coarse = rng.normal(0, 28, size=(4, 4, 3))
    smooth = np.asarray(
        Image.fromarray(np.clip(128 + coarse, 0, 255).astype(np.uint8)).resize((size, size), Image.BICUBIC),
        dtype=float,
    )
    grain = rng.normal(0, 8, size=(size, size, 1))
    return np.clip(base + (smooth - 128) + grain, 0, 255).astype(np.uint8)


def draw_scene(
    canvas: np.ndarray, labels: np.ndarray, colours: np.ndarray, shapes: tuple[str, ...]
) -> np.ndarray:
    """Draw objects ``labels`` (class, cx, cy, w, h in [0, 1]) in ``colours`` onto ``canvas``."""
    size = canvas.shape[0]
    image = Image.fromarray(canvas)
    pen = ImageDraw.Draw(image)
    for (cls, cx, cy, w, h), colour in zip(labels, colours, strict=True):
        x0, y0 = (cx - w / 2) * size, (cy - h / 2) * size
        fill = tuple(int(c) for c in colour)
        outline = SHAPES[shapes[int(cls)]]
        if outline is None:
            pen.ellipse([x0, y0, x0 + w * size - 1, y0 + h * size - 1], fill=fill)
        else:
            points = outline * [w * size - 1, h * size - 1] + [x0, y0]
            pen.polygon([tuple(p) for p in points], fill=fill)
    return np.asarray(image)


def box_colours(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The colour at the centre of each box (3x3 median), as a scene model would measure it."""
    size = image.shape[0]
    colours = np.empty((len(labels), 3))
    for i, (_, cx, cy, _, _) in enumerate(labels):
        x, y = int(np.clip(cx * size, 1, size - 2)), int(np.clip(cy * size, 1, size - 2))
        colours[i] = np.median(image[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3), axis=0)
    return colours


def mask_colours(image: np.ndarray, labels: np.ndarray, shapes: tuple[str, ...]) -> np.ndarray:
    """Each object's colour from the pixels that belong to it as rendered (median), without neighbours
    or background: its shape drawn into its box, less what later objects cover (they are drawn over it).

    An object hidden entirely falls back on its box centre.
    """
    size = image.shape[0]
    owner = np.full((size, size), -1)
    for i, label in enumerate(labels):
        alone = draw_scene(np.zeros((size, size, 3), np.uint8), label[None], [(255, 255, 255)], shapes)
        owner[alone[..., 0] > 0] = i
    colours = box_colours(image, labels)
    for i in range(len(labels)):
        mine = owner == i
        if mine.any():
            colours[i] = np.median(image[mine], axis=0)
    return colours
