"""Where the training core's step spends its time: per part of the step, and in its own kernels.

For each imgsz it builds the network and the ``TrainingRun`` exactly as
``trainer=yolo_fast`` does (its shipped defaults, or ``--precision``) and
reports, per step:

* ``training_gflop_per_image``: one step's FLOPs (forward, loss, backward)
  counted with ``torch.utils.flop_counter``;
* ``floor_ms``: the step's convolutions, batch norms and AdamW update, each
  replayed alone from inputs recorded in a real step (``kernel_floor_ms``);
* ``ms_per_step`` and ``gflops``: ``--epochs`` unprofiled epochs timed after
  a warm-up epoch;
* ``parts_ms``: host time of the labelled parts of ``TrainingRun.step``
  (batch and augmentation, forward, loss, backward, optimiser with clipping,
  EMA) and ``convolution_ms``, the self time of every convolution operator
  (on a GPU, its kernels' device time), from ``torch.profiler`` over four
  steps, the least of ``--profile-repeats`` (two) repeats;
* ``*_s_per_generation``: per-step times times the steps of one generation
  of ``--images`` images and 10 epochs, ``benchmarks/train_core.py``'s
  default, so the two can be set side by side.

The profiler adds about a microsecond per operator, so ``parts_ms`` sum to a
little more than ``ms_per_step``. ``benchmarks/train_core.py`` measures the
floor (no timed epochs, no profile) for its ``speedup_bound``.

    python benchmarks/step_profile.py                  # CPU: imgsz 32, 64 and 128 (~1 min)
    python benchmarks/step_profile.py --device cuda    # on a GPU

Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from datetime import date

import numpy as np

PARTS = ("batch", "forward", "loss", "backward", "optimiser", "ema")
GENERATION_EPOCHS = 10  # train_core.py's default
PROFILED_STEPS = 4
PROFILE_REPEATS = 2


def synchronised_time(device: str) -> float:
    """``time.perf_counter()`` once the device has finished its queued work (CUDA runs asynchronously)."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter()


def matmul_peak_gflops(device: str) -> float:
    """Best of five large square matrix multiplies after one warm-up (float32 on CPU, bfloat16 on GPU); more
    repeats moved the best by under 2 % here, and every benchmark (and its smoke test) pays for them."""
    import torch

    from collapse_sim.yolo.runtime import cpu_threads

    torch.set_num_threads(cpu_threads())
    n, dtype = (2048, torch.float32) if device == "cpu" else (8192, torch.bfloat16)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    a @ b  # warm-up
    for _ in range(5):
        began = synchronised_time(device)
        a @ b
        best = max(best, 2 * n**3 / (synchronised_time(device) - began) / 1e9)
    return best


def generation_data(imgsz: int, images: int, test_size: int):
    """The benchmarks' rendered generation: ``images`` training scenes and ``test_size`` real test ones."""
    from collapse_sim.sources.shapes import ShapesSource

    return ShapesSource(pool_size=images, test_size=test_size, image_size=imgsz).load(
        np.random.default_rng(2026)
    )


def header(benchmark: str, args) -> dict:
    """The fields every benchmark's summary line starts with."""
    return {
        "benchmark": benchmark,
        "date": date.today().isoformat(),
        "device": args.device,
        "machine": platform.processor() or platform.machine(),
        "images": args.images,
        "batch": args.batch,
    }


def measure_step(
    imgsz: int,
    images: int,
    batch: int,
    device: str,
    timed_epochs: int = 2,
    profiled: bool = True,
    precision: str = "auto",
    floor_s: float = 1.0,
    profile_repeats: int = PROFILE_REPEATS,
) -> dict:
    """Count, replay, time (``timed_epochs`` > 0) and profile the training core's step at one size."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from collapse_sim.trainers.yolo_fast import YOLOFastTrainer
    from collapse_sim.yolo.network import build_network
    from collapse_sim.yolo.runtime import cpu_threads, ultralytics

    ultralytics()
    trainer = YOLOFastTrainer(imgsz=imgsz, batch=batch, device=device, precision=precision)
    data = generation_data(imgsz, images, test_size=1)
    if trainer.device == "cpu":
        torch.set_num_threads(cpu_threads())
    torch.manual_seed(0)
    network = build_network(trainer.model, len(data.train.names), start_from=None, hyperparameters={})

    run = trainer.training_run(network, data.train, seed=0)
    first_batch = run.tensors.batch(torch.arange(trainer.batch, device=run.device))
    with FlopCounterMode(display=False) as counter:  # counts convolutions and matmuls, forward and backward
        run.step(*first_batch)
    steps = math.ceil(images / trainer.batch)
    generation_steps = steps * GENERATION_EPOCHS
    floor = kernel_floor_ms(run, first_batch[0], floor_s)
    out = {
        "imgsz": imgsz,
        "precision": trainer.precision,
        "training_gflop_per_image": counter.get_total_flops() / trainer.batch / 1e9,
        "floor_ms": floor,
        "floor_s_per_generation": sum(floor.values()) * generation_steps / 1e3,
    }
    if timed_epochs:
        run.epoch(0, timed_epochs + 1)  # warm-up: allocator, oneDNN/cuDNN primitive caches
        began = synchronised_time(trainer.device)
        for epoch in range(1, timed_epochs + 1):
            run.epoch(epoch, timed_epochs + 1)
        out["ms_per_step"] = (synchronised_time(trainer.device) - began) / (timed_epochs * steps) * 1e3
        out["step_s_per_generation"] = out["ms_per_step"] * generation_steps / 1e3
        out["gflops"] = out["training_gflop_per_image"] * trainer.batch / out["ms_per_step"] * 1e3
    if profiled:
        # A few steps suffice (each costs the same) and keep the profiler's own parsing short; the
        # least of a few repeats is the estimate least disturbed by anything else on the machine.
        probed = data.train.take(range(min(PROFILED_STEPS * trainer.batch, images)))
        probe = trainer.training_run(network, probed, seed=0)
        on_gpu = trainer.device.startswith("cuda")
        repeats = [_profile_steps(probe, on_gpu) for _ in range(profile_repeats)]
        out["parts_ms"] = {name: round(min(r["parts"].get(name, 0.0) for r in repeats), 2) for name in PARTS}
        out["convolution_ms"] = min(r["convolution_ms"] for r in repeats)
        out["convolutions_per_step"] = repeats[0]["convolutions"]
        if on_gpu:
            out["kernel_launches_per_step"] = repeats[0]["launches"]
    return out


def kernel_floor_ms(run, images, seconds: float = 1.0) -> dict[str, float]:
    """One step's convolutions, batch norms and AdamW update, each replayed alone (median ms per step).

    Every ``Conv2d`` and ``BatchNorm2d`` call of a training forward pass is
    recorded with its input. The replay runs, with no autograd or Python
    module code around them, each convolution forward and its
    ``convolution_backward`` (no input gradient for the images), each batch
    norm forward with batch statistics and its backward, and one fused
    AdamW update of copies of the parameters: work any trainer of this
    network does every step, whatever it fuses or leaves out around it.
    """
    import torch
    from torch.utils import benchmark

    calls = []
    hooks = [
        module.register_forward_hook(lambda module, inputs, output: calls.append((module, inputs[0], output)))
        for module in run.network.modules()
        if isinstance(module, torch.nn.Conv2d | torch.nn.BatchNorm2d)
    ]
    with torch.no_grad(), torch.autocast(run.device.type, torch.bfloat16, enabled=run.bf16):
        run.network(images.contiguous(memory_format=torch.channels_last))
    for hook in hooks:
        hook.remove()
    convolutions, norms = [], []
    for module, x, y in calls:
        if isinstance(module, torch.nn.Conv2d):  # in the step's dtype: under bf16 autocast, bf16
            bias = None if module.bias is None else module.bias.to(y.dtype)
            masks = [x is not calls[0][1], True, bias is not None]  # no gradient for the images
            convolutions.append(
                (x.to(y.dtype), module.weight.to(y.dtype), bias, torch.randn_like(y), module, masks)
            )
        else:
            statistics = (module.running_mean.clone(), module.running_var.clone())
            norms.append(
                (x, module.weight.detach(), module.bias.detach(), *statistics, torch.randn_like(y), module)
            )

    def convolve() -> None:
        for x, weight, bias, grad, conv, masks in convolutions:
            torch.nn.functional.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
            torch.ops.aten.convolution_backward(
                grad,
                x,
                weight,
                None if bias is None else bias.shape,
                conv.stride,
                conv.padding,
                conv.dilation,
                False,
                [0, 0],
                conv.groups,
                masks,
            )

    def normalise() -> None:
        for x, weight, bias, mean, var, grad, norm in norms:
            _, batch_mean, batch_invstd = torch.ops.aten.native_batch_norm(
                x, weight, bias, mean, var, True, norm.momentum, norm.eps
            )
            torch.ops.aten.native_batch_norm_backward(
                grad, x, weight, mean, var, batch_mean, batch_invstd, True, norm.eps, [True, True, True]
            )

    parameters = [p.detach().clone().requires_grad_() for p in run.network.parameters()]
    for parameter in parameters:
        parameter.grad = torch.randn_like(parameter)
    fused = {"fused": True} if run.device.type in ("cpu", "cuda") else {}
    optimizer = torch.optim.AdamW(parameters, lr=1e-9, **fused)

    def timed(work) -> float:
        def synchronised() -> None:
            work()
            synchronised_time(run.device.type)

        timer = benchmark.Timer("work()", globals={"work": synchronised}, num_threads=torch.get_num_threads())
        return timer.blocked_autorange(min_run_time=seconds).median * 1e3

    return {"convolution": timed(convolve), "batch_norm": timed(normalise), "adamw": timed(optimizer.step)}


def _profile_steps(run, on_gpu: bool) -> dict:
    """Per step of one profiled pass over ``run``'s data: part times, convolution time, call counts."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_gpu else [])
    with profile(activities=activities) as profiler:
        run.epoch(0, 1)
        synchronised_time(run.device.type)
    events = profiler.key_averages()
    steps = math.ceil(len(run.tensors) / run.batch)
    conv_us = sum(
        (e.self_device_time_total if on_gpu else e.self_cpu_time_total)
        for e in events
        if "convolution" in e.key
    )
    return {
        "parts": {e.key: e.cpu_time_total / 1e3 / steps for e in events if e.key in PARTS},
        "convolution_ms": conv_us / 1e3 / steps,
        "convolutions": sum(e.count for e in events if e.key == "aten::convolution") / steps,
        "launches": sum(e.count for e in events if e.key in ("cudaLaunchKernel", "cuLaunchKernel")) / steps,
    }


def main() -> None:
    """Parse arguments, profile every size, print the summary JSON last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:<index>")
    parser.add_argument("--imgsz", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--images", type=int, default=200, help="training images (one generation)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--precision", default="auto", help="auto, fp32 or bf16, as trainer.precision")
    parser.add_argument("--epochs", type=int, default=2, help="unprofiled epochs timed (>= 1)")
    parser.add_argument(
        "--floor-s", type=float, default=1.0, help="seconds each kernel floor is timed for (at least)"
    )
    parser.add_argument(
        "--profile-repeats",
        type=int,
        default=PROFILE_REPEATS,
        help="profiled passes per size, the least reported (each costs seconds of the profiler's parsing)",
    )
    args = parser.parse_args()
    if args.profile_repeats < 1:
        parser.error(f"--profile-repeats must be at least 1, not {args.profile_repeats}")
    began = time.perf_counter()
    sizes = []
    for imgsz in args.imgsz:
        sizes.append(
            measure_step(
                imgsz,
                args.images,
                args.batch,
                args.device,
                args.epochs,
                precision=args.precision,
                floor_s=args.floor_s,
                profile_repeats=args.profile_repeats,
            )
        )
        print(json.dumps(sizes[-1]), flush=True)
    summary = {
        **header("step_profile", args),
        "generation_epochs": GENERATION_EPOCHS,
        "sizes": sizes,
        "benchmark_wall_s": time.perf_counter() - began,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
