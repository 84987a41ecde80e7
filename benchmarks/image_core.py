"""``trainer=ddpm``'s training and sampling throughput on real digits, with the share of a matmul peak.

Training: the trainer's own ``fit`` on scikit-learn's 8x8 digits (the shipped
U-Net, width 16), ``--iterations`` steps at batch ``--batch`` after a warm-up
fit, as images/s and as the share of a matrix-multiply peak measured in the
same run (``flop_fraction``; the network's FLOPs counted by torch's
``FlopCounterMode`` for one training step). Sampling: ``--images`` images by
``--steps`` respaced steps, without and with classifier-free guidance (which
evaluates the network twice a step), as images/s and network evaluations/s.

    python benchmarks/image_core.py                  # CPU (about a minute)
    python benchmarks/image_core.py --device cuda    # on a GPU (bf16 autocast, images resident)

Prints one JSON line last with ``train_images_per_s``, ``sample_images_per_s``,
``sample_images_per_s_guided`` and their ``flop_fraction``s.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from step_profile import matmul_peak_gflops, synchronised_time

from collapse_sim.components import RunContext
from collapse_sim.devices import available_cores
from collapse_sim.sources.images import DigitsSource


def step_flops(network, batch: int, size: tuple[int, int], device: str) -> tuple[float, float]:
    """FLOPs of one training step (forward and backward) and of one forward pass, at ``batch`` images."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(batch, 1, *size, device=device)
    t = torch.randint(1000, (batch,), device=device)
    labels = torch.zeros(batch, dtype=torch.long, device=device)
    with FlopCounterMode(display=False) as counted:
        network(x, t, labels).square().mean().backward()
    with FlopCounterMode(display=False) as forward, torch.no_grad():
        network(x, t, labels)
    return float(counted.get_total_flops()), float(forward.get_total_flops())


def main() -> None:
    """Train, sample with and without guidance, print the throughputs as JSON."""
    import torch

    from collapse_sim.models.ddpm import DenoisingUNet
    from collapse_sim.trainers.ddpm import DDPMTrainer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: every core)")
    args = parser.parse_args()
    threads = args.threads or available_cores()
    peak = matmul_peak_gflops(args.device)
    torch.set_num_threads(threads)
    real = DigitsSource(pool_size=None).load(np.random.default_rng(0))

    def trainer(iterations: int) -> DDPMTrainer:
        made = DDPMTrainer(
            width=args.width, iterations=iterations, batch=args.batch, device=args.device, threads=threads
        )
        made.setup(RunContext(Path("."), 0, real=real))
        return made

    trainer(3).fit(real.train, rng=np.random.default_rng(1), generation=0)  # warm-up: allocations, kernels
    began = synchronised_time(args.device)
    model = trainer(args.iterations).fit(real.train, rng=np.random.default_rng(2), generation=0)
    train_s = synchronised_time(args.device) - began
    network = DenoisingUNet(len(real.truth.names), args.width).to(args.device)
    train_flops, forward_flops = step_flops(network, args.batch, real.train.size, args.device)
    sampled = {}
    for guidance in (0.0, 1.0):
        model.sample(4, np.random.default_rng(3), steps=2, guidance=guidance)  # warm-up
        began = synchronised_time(args.device)
        model.sample(args.images, np.random.default_rng(4), steps=args.steps, guidance=guidance)
        sampled[guidance] = synchronised_time(args.device) - began
    per_image = forward_flops / args.batch  # one network evaluation of one image
    evaluations = {0.0: args.images * args.steps, 1.0: 2 * args.images * args.steps}
    summary = {
        "benchmark": "image_core",
        "device": args.device,
        "threads": threads if args.device == "cpu" else None,
        "torch": torch.__version__,
        "matmul_peak_gflops": round(peak, 1),
        "width": args.width,
        "image_size": list(real.train.size),
        "train_images_per_s": round(args.iterations * args.batch / train_s),
        "train_flop_fraction": round(train_flops * args.iterations / train_s / 1e9 / peak, 4),
        "sample_steps": args.steps,
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
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
