"""Object sprites: crops of labelled objects with a mask read from the crop, and pasting them back.

A sprite is a square RGBA patch: the object's box resized to ``size`` pixels,
with an alpha mask that says which pixels are the object. The mask comes from
the crop itself (pixels that differ from the crop's border, the local
background), so a generator trained on sprites learns from what the images
show, its own artefacts included, never from the world's true outlines.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from collapse_sim.scenes.dataset import DetectionSet, empty_labels

FOREGROUND_DISTANCE = 40.0  # RGB distance from the border colour above which a pixel is the object
SOLID = 0.5  # alpha above which a pasted pixel counts towards the object's box


def _resize(patch: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a float (h, w, c) patch with PIL's bilinear filter, channel by channel."""
    channels = [
        np.asarray(
            Image.fromarray(patch[..., c].astype(np.float32), mode="F").resize(
                (width, height), Image.BILINEAR
            )
        )
        for c in range(patch.shape[-1])
    ]
    return np.stack(channels, axis=-1)


def crop_alpha(crop: np.ndarray) -> np.ndarray:
    """Alpha in [0, 1] for an (s, s, 3) crop: distance from the median border colour, soft-thresholded."""
    border = np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]]).astype(float)
    distance = np.linalg.norm(crop.astype(float) - np.median(border, axis=0), axis=-1)
    return np.clip((distance - FOREGROUND_DISTANCE / 2) / FOREGROUND_DISTANCE, 0.0, 1.0)


def object_crops(data: DetectionSet, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every labelled object as an RGBA sprite in [0, 1] and its class: (N, size, size, 4), (N,)."""
    crops, classes, _ = object_crops_by_image(data, size)
    return crops, classes


def object_crops_by_image(data: DetectionSet, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``object_crops`` and the index of the image each crop comes from, in image order."""
    sprites, classes, images = [], [], []
    side = data.image_size
    for index, (image, labels) in enumerate(zip(data.images, data.labels, strict=True)):
        for cls, cx, cy, w, h in labels:
            x0, x1 = int(np.floor((cx - w / 2) * side)), int(np.ceil((cx + w / 2) * side))
            y0, y1 = int(np.floor((cy - h / 2) * side)), int(np.ceil((cy + h / 2) * side))
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, side), min(y1, side)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            rgb = _resize(image[y0:y1, x0:x1].astype(np.float32), size, size)
            alpha = crop_alpha(np.clip(rgb, 0, 255))
            sprites.append(np.concatenate([rgb / 255.0, alpha[..., None]], axis=-1))
            classes.append(int(cls))
            images.append(index)
    if not sprites:
        return np.zeros((0, size, size, 4), dtype=np.float32), np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    return np.clip(np.stack(sprites), 0, 1).astype(np.float32), np.array(classes), np.array(images)


def paste(canvas: np.ndarray, objects: np.ndarray, sprites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Paste RGBA ``sprites`` into the boxes ``objects`` (class, cx, cy, w, h) of a uint8 canvas.

    Each label is the pasted sprite's own extent (its pixels with alpha above
    ``SOLID``), so the labels stay exact whatever the sprite looks like; a
    sprite with no solid pixel leaves no object and no label.
    """
    side = canvas.shape[0]
    image = canvas.astype(np.float32)
    labels = []
    for (cls, cx, cy, w, h), sprite in zip(objects, sprites, strict=True):
        x0, y0 = int(round((cx - w / 2) * side)), int(round((cy - h / 2) * side))
        width, height = max(int(round(w * side)), 2), max(int(round(h * side)), 2)
        width, height = min(width, side - max(x0, 0)), min(height, side - max(y0, 0))
        x0, y0 = max(x0, 0), max(y0, 0)
        patch = _resize(sprite, width, height)
        alpha = np.clip(patch[..., 3:], 0, 1)
        region = image[y0 : y0 + height, x0 : x0 + width]
        image[y0 : y0 + height, x0 : x0 + width] = (
            alpha * np.clip(patch[..., :3], 0, 1) * 255 + (1 - alpha) * region
        )
        rows, cols = np.nonzero(alpha[..., 0] > SOLID)
        if rows.size:
            left, right = (x0 + cols.min()) / side, (x0 + cols.max() + 1) / side
            top, bottom = (y0 + rows.min()) / side, (y0 + rows.max() + 1) / side
            labels.append([cls, (left + right) / 2, (top + bottom) / 2, right - left, bottom - top])
    labels = np.array(labels, dtype=np.float32) if labels else empty_labels()
    return np.clip(image, 0, 255).astype(np.uint8), labels
