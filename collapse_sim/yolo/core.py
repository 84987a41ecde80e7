"""One generation's training in memory: batches, augmentation, loss, optimiser and EMA on the device.

The step is Ultralytics' own: ``network(images)`` then the network's
criterion (for YOLO26, the one-to-many plus one-to-one loss whose mixing
weight ``criterion.update()`` decays once per epoch), ``loss.sum()``
backwards, gradient norm clipped at 10, optimiser step, ``ModelEMA.update``.
"""

from __future__ import annotations

from copy import deepcopy

import numpy as np
import torch
from torch.profiler import record_function as part

from collapse_sim.scenes.dataset import DetectionSet
from collapse_sim.yolo.tensors import TrainingTensors, augment

BETAS = (0.937, 0.999)  # Ultralytics' momentum for Adam-type optimisers
FINAL_LR_FRACTION = 0.01  # Ultralytics' lrf: the learning rate decays linearly to lr0 * lrf
MAX_GRAD_NORM = 10.0


def parameter_groups(network: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Ultralytics' three groups: decay on weights, none on normalisation weights or biases."""
    norms = tuple(v for k, v in torch.nn.__dict__.items() if "Norm" in k)
    decayed, plain = [], []
    for module in network.modules():
        for name, parameter in module.named_parameters(recurse=False):
            (plain if name == "bias" or isinstance(module, norms) else decayed).append(parameter)
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


class TrainingRun:
    """The state of training one network on one generation's data."""

    def __init__(
        self,
        network,
        data: DetectionSet,
        *,
        imgsz: int,
        batch: int,
        device: torch.device,
        lr0: float,
        weight_decay: float,
        augmentation: dict,
        bf16: bool,
        compile: bool,
        seed: int,
    ) -> None:
        from ultralytics.utils.torch_utils import ModelEMA

        self.network = network.to(device, memory_format=torch.channels_last).train()
        self.tensors = TrainingTensors.from_set(data, imgsz, device)
        self.batch, self.device, self.lr0, self.bf16 = batch, device, lr0, bf16
        self.augmentation = augmentation
        self.criterion = network.init_criterion()
        self.forward = torch.compile(self.network) if compile else self.network
        fused = {"fused": True} if device.type in ("cpu", "cuda") else {}
        self.optimizer = torch.optim.AdamW(
            parameter_groups(network, weight_decay), lr=lr0, betas=BETAS, **fused
        )
        self.ema = ModelEMA(self.network)
        self.generator = torch.Generator(device=device).manual_seed(seed)

    def epoch(self, epoch: int, epochs: int) -> dict[str, float]:
        """One pass over the data in a fresh random order; the epoch's mean loss components."""
        lr = self.lr0 * ((1 - epoch / epochs) * (1 - FINAL_LR_FRACTION) + FINAL_LR_FRACTION)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        order = torch.randperm(len(self.tensors), generator=self.generator, device=self.device)
        total, steps = None, 0
        for start in range(0, len(order), self.batch):
            with part("batch"):
                images, labels = self.tensors.batch(order[start : start + self.batch])
                images, labels = augment(images, labels, generator=self.generator, **self.augmentation)
                images = images.contiguous(memory_format=torch.channels_last)
            items = self.step(images, labels)
            total = items if total is None else total + items
            steps += 1
        if hasattr(self.criterion, "update"):
            self.criterion.update()
        names = getattr(self.criterion, "one2one", self.criterion).loss_names
        return {name: round(float(v), 5) for name, v in zip(names, (total / steps).tolist(), strict=True)}

    def step(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Forward, loss, backward, clipped optimiser step, EMA update; the detached loss components."""
        batch = {"batch_idx": labels[:, 0], "cls": labels[:, 1:2], "bboxes": labels[:, 2:6]}
        # The labelled parts are what benchmarks/step_profile.py reports; unprofiled they cost ~1 µs each.
        with part("forward"), torch.autocast(self.device.type, torch.bfloat16, enabled=self.bf16):
            predictions = self.forward(images)
        with part("loss"):
            loss, items = self.criterion(predictions, batch)
        with part("backward"):
            loss.sum().backward()
        with part("optimiser"):
            torch.nn.utils.clip_grad_norm_(self.network.parameters(), max_norm=MAX_GRAD_NORM, foreach=True)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        with part("ema"):
            self.ema.update(self.network)
        return torch.stack(list(items.values())).detach()

    def map50(self, test: DetectionSet) -> float:
        """mAP50 of a fused copy of the EMA weights on ``test`` (the live network is left untouched)."""
        from collapse_sim.yolo.fast_detector import predict_arrays
        from collapse_sim.yolo.scoring import average_precision, match

        network = deepcopy(self.ema.ema).float().fuse(verbose=False).eval()
        predictions = predict_arrays(
            network,
            test.images,
            imgsz=self.tensors.images.shape[-1],
            device=self.device,
            bf16=self.bf16,
            conf=0.001,
            iou=0.7,
            max_det=300,
            batch=64,
        )
        correct, conf, cls, _ = match(predictions, test.labels)
        ap, _ = average_precision(correct, conf, cls, test.objects()[:, 0], len(test.names))
        return float(np.nanmean(ap[:, 0]))
