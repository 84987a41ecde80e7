"""The image trainers' training and sampling throughput on real digits, with the share of a matmul peak:
``trainer=ddpm`` (our U-Net) beside ``trainer=diffusers_unet`` (a diffusers ``UNet2DModel``).

Training: each trainer's own ``fit`` on scikit-learn's 8x8 digits (each at
its shipped size: ddpm's U-Net of width 16, diffusers' of channels [16, 32]),
``--iterations`` steps at batch ``--batch`` after a warm-up fit, as images/s
and as the share of a matrix-multiply peak measured in the same run
(``flop_fraction``; the network's FLOPs counted by torch's ``FlopCounterMode``
for one training step). Sampling: ``--images`` images by ``--steps`` respaced
steps, without and with classifier-free guidance (which evaluates the network
twice a step), as images/s and network evaluations/s. diffusers' row is left
out where diffusers is not installed.

    python benchmarks/image_core.py                  # CPU (about two minutes)
    python benchmarks/image_core.py --device cuda    # on a GPU (bf16 autocast, images resident)

Prints a JSON line a trainer, then one last with ddpm's ``train_images_per_s``,
``sample_images_per_s``, ``sample_images_per_s_guided`` and their
``flop_fraction``s at its top level, every trainer's row under ``trainers``,
and ``ddpm_over_diffusers_train`` and ``_sample``: the speed ratios.
"""

from __future__ import annotations

import argparse
import importlib.util
import json

import numpy as np
from step_profile import matmul_peak_gflops, synchronised_time

from collapse_sim.components import RunContext
from collapse_sim.devices import available_cores
from collapse_sim.sources.images import DigitsSource


def step_flops(forward, batch: int, size: tuple[int, int], device: str) -> tuple[float, float]:
    """FLOPs of one training step (forward and backward) and of one forward pass, at ``batch`` images;
    ``forward(x, t, labels)`` is the network's noise prediction."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(batch, 1, *size, device=device)
    t = torch.randint(1000, (batch,), device=device)
    labels = torch.zeros(batch, dtype=torch.long, device=device)
    with FlopCounterMode(display=False) as counted:
        forward(x, t, labels).square().mean().backward()
    with FlopCounterMode(display=False) as once, torch.no_grad():
        forward(x, t, labels)
    return float(counted.get_total_flops()), float(once.get_total_flops())


def trainers(args, threads: int) -> dict:
    """Each trainer measured: a maker of it at a number of iterations, and its network's forward pass."""
    from collapse_sim.models.ddpm import DenoisingUNet
    from collapse_sim.trainers.ddpm import DDPMTrainer

    made = {
        "ddpm": (
            lambda iterations: DDPMTrainer(
                width=args.width, iterations=iterations, batch=args.batch, device=args.device, threads=threads
            ),
            lambda classes, size: DenoisingUNet(classes, args.width).to(args.device),
        )
    }
    if importlib.util.find_spec("diffusers") is not None and "diffusers_unet" in args.trainers:
        from collapse_sim.models.diffusers_unet import build_unet
        from collapse_sim.trainers.diffusers_unet import DiffusersUNetTrainer

        def diffusers_trainer(iterations: int) -> DiffusersUNetTrainer:
            return DiffusersUNetTrainer(
                iterations=iterations, batch=args.batch, device=args.device, threads=threads
            )

        def diffusers_forward(classes: int, size):
            unet = build_unet(diffusers_trainer(1).unet_config(classes, size)).to(args.device)
            return lambda x, t, labels: unet(x, t, class_labels=labels).sample

        made["diffusers_unet"] = (diffusers_trainer, diffusers_forward)
    return {name: made[name] for name in args.trainers if name in made}


def measured(name: str, make, forward_of, real, args, peak: float) -> dict:
    """One trainer's training and sampling throughput, with and without guidance."""
    trainer = make(3)
    trainer.setup(RunContext(None, 0, real=real))
    trainer.fit(real.train, rng=np.random.default_rng(1), generation=0)  # warm-up: allocations, kernels
    trainer = make(args.iterations)
    trainer.setup(RunContext(None, 0, real=real))
    began = synchronised_time(args.device)
    model = trainer.fit(real.train, rng=np.random.default_rng(2), generation=0)
    train_s = synchronised_time(args.device) - began
    forward = forward_of(len(real.truth.names), real.train.size)
    train_flops, forward_flops = step_flops(forward, args.batch, real.train.size, args.device)
    sampled = {}
    for guidance in (0.0, 1.0):
        model.sample(4, np.random.default_rng(3), steps=2, guidance=guidance)  # warm-up
        began = synchronised_time(args.device)
        model.sample(args.images, np.random.default_rng(4), steps=args.steps, guidance=guidance)
        sampled[guidance] = synchronised_time(args.device) - began
    per_image = forward_flops / args.batch  # one network evaluation of one image
    evaluations = {0.0: args.images * args.steps, 1.0: 2 * args.images * args.steps}
    return {
        "trainer": name,
        "parameters": sum(v.numel() for v in model.state.values()),
        "train_images_per_s": round(args.iterations * args.batch / train_s),
        "train_flop_fraction": round(train_flops * args.iterations / train_s / 1e9 / peak, 4),
        "sample_images_per_s": round(args.images / sampled[0.0], 1),
        "sample_images_per_s_guided": round(args.images / sampled[1.0], 1),
        "sample_flop_fraction": round(per_image * evaluations[0.0] / sampled[0.0] / 1e9 / peak, 4),
        "sample_flop_fraction_guided": round(per_image * evaluations[1.0] / sampled[1.0] / 1e9 / peak, 4),
        "generation_s_at_shipped_settings": round(
            1000 * args.batch / (args.iterations * args.batch / train_s)
            + 2 * 500 / (args.images / sampled[0.0]),
            1,
        ),
    }


def main() -> None:
    """Train and sample each trainer with and without guidance; print a JSON line a trainer, then the
    summary (``ddpm``'s throughputs at its top level, every trainer's row, and the ratios)."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: every core)")
    parser.add_argument(
        "--trainers", nargs="+", default=["ddpm", "diffusers_unet"], choices=["ddpm", "diffusers_unet"]
    )
    args = parser.parse_args()
    threads = args.threads or available_cores()
    peak = matmul_peak_gflops(args.device)
    torch.set_num_threads(threads)
    real = DigitsSource(pool_size=None).load(np.random.default_rng(0))
    rows = []
    for name, (make, forward_of) in trainers(args, threads).items():
        rows.append(measured(name, make, forward_of, real, args, peak))
        print(json.dumps(rows[-1]))
    by_name = {row["trainer"]: row for row in rows}
    summary = {
        "benchmark": "image_core",
        "device": args.device,
        "threads": threads if args.device == "cpu" else None,
        "torch": torch.__version__,
        "matmul_peak_gflops": round(peak, 1),
        "width": args.width,
        "image_size": list(real.train.size),
        "sample_steps": args.steps,
        **{k: v for k, v in by_name.get("ddpm", rows[0]).items() if k != "trainer"},
        "trainers": rows,
    }
    if {"ddpm", "diffusers_unet"} <= set(by_name):
        ours, theirs = by_name["ddpm"], by_name["diffusers_unet"]
        summary["ddpm_over_diffusers_train"] = round(
            ours["train_images_per_s"] / theirs["train_images_per_s"], 2
        )
        summary["ddpm_over_diffusers_sample"] = round(
            ours["sample_images_per_s"] / theirs["sample_images_per_s"], 2
        )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
