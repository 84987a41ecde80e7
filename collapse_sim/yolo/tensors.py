"""A generation's training set as device tensors, and the augmentation applied to them on the device.

Images stay ``uint8`` (a quarter of the memory of float) and become float one
batch at a time; labels are one ``(M, 6)`` tensor of image index, class, cx,
cy, w, h, sorted by image, so a batch's labels are a gather, not a Python loop.
The augmentation follows Ultralytics' ``RandomPerspective`` (scale and
translate, grey 114 border, ``box_candidates`` filter), ``RandomFlip`` and
``RandomHSV`` (value and saturation gains), per image, as batched tensor ops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from collapse_sim.scenes.dataset import DetectionSet

BORDER = 114 / 255  # Ultralytics' letterbox and perspective fill
MIN_SIDE_PX = 2.0  # box_candidates: boxes thinner than this after augmentation are dropped
MIN_AREA_KEPT = 0.1  # ... and boxes that keep less than this share of their area


def as_image_tensor(images: np.ndarray, imgsz: int, device: torch.device) -> torch.Tensor:
    """``(N, S, S, 3)`` uint8 RGB → ``(N, 3, imgsz, imgsz)`` uint8 on ``device`` (resized when S ≠ imgsz)."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(device)
    if tensor.shape[-1] != imgsz:  # square scenes: Ultralytics' letterbox is a plain resize
        resized = F.interpolate(tensor.float(), size=(imgsz, imgsz), mode="bilinear", antialias=True)
        tensor = resized.round().clamp(0, 255).to(torch.uint8)
    return tensor.contiguous()


@dataclass
class TrainingTensors:
    """Images ``(N, 3, S, S)`` uint8 and labels ``(M, 6)`` on one device."""

    images: torch.Tensor
    labels: torch.Tensor
    first_label: torch.Tensor
    label_count: torch.Tensor

    @classmethod
    def from_set(cls, data: DetectionSet, imgsz: int, device: torch.device) -> TrainingTensors:
        """Move ``data`` to ``device`` once; nothing is read from disk afterwards."""
        counts = np.array([len(objects) for objects in data.labels], dtype=np.int64)
        rows = [np.column_stack([np.full(len(o), i, np.float32), o]) for i, o in enumerate(data.labels)]
        labels = np.concatenate(rows).astype(np.float32) if counts.sum() else np.zeros((0, 6), np.float32)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return cls(
            images=as_image_tensor(data.images, imgsz, device),
            labels=torch.from_numpy(labels).to(device),
            first_label=torch.from_numpy(first).to(device),
            label_count=torch.from_numpy(counts).to(device),
        )

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Float images in [0, 1] and their labels, the image index renumbered to the batch position."""
        counts = self.label_count[indices]
        position = torch.repeat_interleave(torch.arange(len(indices), device=indices.device), counts)
        offset = torch.arange(len(position), device=indices.device) - torch.repeat_interleave(
            counts.cumsum(0) - counts, counts
        )
        labels = self.labels[self.first_label[indices][position] + offset].clone()
        labels[:, 0] = position.to(labels.dtype)
        return self.images[indices].float().div_(255), labels


def _uniform(n: int, low: float, high: float, generator: torch.Generator, device) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=device) * (high - low) + low


def augment(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    generator: torch.Generator,
    fliplr: float,
    scale: float,
    translate: float,
    hsv_s: float,
    hsv_v: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random zoom and shift, horizontal flip and colour gains per image; boxes follow the pixels."""
    n, device = len(images), images.device
    if scale or translate:
        zoom = _uniform(n, 1 - scale, 1 + scale, generator, device)
        shift = _uniform(2 * n, -translate, translate, generator, device).view(n, 2)
        # affine_grid maps output to input coordinates in [-1, 1]: the inverse of zoom-then-shift.
        theta = torch.zeros(n, 2, 3, device=device, dtype=images.dtype)
        theta[:, 0, 0] = theta[:, 1, 1] = 1 / zoom
        theta[:, :, 2] = -2 * shift / zoom[:, None]
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        images = F.grid_sample(images - BORDER, grid, mode="bilinear", align_corners=False) + BORDER
        labels = _move_boxes(labels, zoom, shift, images.shape[-1])
    if fliplr:
        flip = torch.rand(n, generator=generator, device=device) < fliplr
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        flipped = flip[labels[:, 0].long()]
        labels[:, 2] = torch.where(flipped, 1 - labels[:, 2], labels[:, 2])
    if hsv_s or hsv_v:
        saturation = _uniform(n, 1 - hsv_s, 1 + hsv_s, generator, device).view(n, 1, 1, 1)
        value = _uniform(n, 1 - hsv_v, 1 + hsv_v, generator, device).view(n, 1, 1, 1)
        grey = images.max(dim=1, keepdim=True).values  # HSV value: scaling towards it changes saturation only
        images = ((grey + (images - grey) * saturation) * value).clamp_(0, 1)
    return images, labels


def _move_boxes(labels: torch.Tensor, zoom: torch.Tensor, shift: torch.Tensor, side: int) -> torch.Tensor:
    """Zoom about the centre, shift, clip to the image; drop boxes that became slivers (as Ultralytics)."""
    z = zoom[labels[:, 0].long()]
    s = shift[labels[:, 0].long()]
    cx, cy = (labels[:, 2] - 0.5) * z + 0.5 + s[:, 0], (labels[:, 3] - 0.5) * z + 0.5 + s[:, 1]
    w, h = labels[:, 4] * z, labels[:, 5] * z
    x1, x2 = (cx - w / 2).clamp(0, 1), (cx + w / 2).clamp(0, 1)
    y1, y2 = (cy - h / 2).clamp(0, 1), (cy + h / 2).clamp(0, 1)
    cw, ch = x2 - x1, y2 - y1
    keep = (cw * side > MIN_SIDE_PX) & (ch * side > MIN_SIDE_PX) & (cw * ch > MIN_AREA_KEPT * w * h)
    moved = torch.stack([labels[:, 0], labels[:, 1], (x1 + x2) / 2, (y1 + y2) / 2, cw, ch], dim=1)
    return moved[keep]
