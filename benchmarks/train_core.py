"""Stock ``trainer=yolo`` vs the training core ``trainer=yolo_fast`` on the same generation, side by side.

Both train YOLO26n from its YAML on the same rendered generation (same
images, imgsz, batch, epochs, seeds) and are scored on the same real test
set. The stock trainer gets its best small-data settings (the shipped
``trainer=yolo`` config: AdamW, no warm-up, no mosaic, no gradient
accumulation, validation and checkpoint only after the last epoch).

Each training runs in a fresh process, so ``peak_rss_mb`` is that trainer's
own peak (Python, torch and Ultralytics included). Inside it, a one-epoch
warm-up fit comes first (imports, allocator, first-call costs), then the
timed fit: ``wall_s`` is the whole per-generation cost as a simulation pays
it (the stock trainer's dataset folder and data.yaml included), with
``torch.cuda.synchronize()`` around it on a GPU. Training FLOPs per image
(forward, loss and backward) are counted once with
``torch.utils.flop_counter``; achieved GFLOP/s is that times the images
trained over ``wall_s``, against a matrix-multiply peak measured in the same
run on the same device (float32 on a CPU, bfloat16 on a GPU, matching what
``yolo_fast`` trains in).

``speedup_bound`` is the stock wall time over the floor of the training
core's step for the same generation: its convolutions, batch norms (forward
and backward) and AdamW update, each replayed alone with no autograd or
module code around them (``step_profile.py``'s ``kernel_floor_ms``). While
the step runs these kernels as eager PyTorch runs them, no rewrite of the
rest of the step gives a ratio above it. (``torch.compile`` may generate its
own batch-norm kernels; on this CPU it trained no faster, see README.md.)

    python benchmarks/train_core.py                  # CPU: 200 images, imgsz 64 and 128, 4 seeds (~8 min)
    python benchmarks/train_core.py --device cuda    # on a GPU
    python benchmarks/train_core.py --imgsz 32 --images 16 --epochs 1 --seeds 1 --same-process  # does it run?

Prints one JSON line last; its top-level figures are for the first imgsz.
``map50_difference`` is the training core's mAP50 minus stock's, paired by
seed, with its 95 % Student-t interval: an interval that holds zero means the
two trainers learn equally well at that size, as far as these seeds can tell.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from step_profile import generation_data, header, matmul_peak_gflops, measure_step, synchronised_time

from collapse_sim.reporting.intervals import mean_interval


def train_once(
    kind: str, imgsz: int, images: int, epochs: int, batch: int, device: str, seed: int, test_size: int
) -> dict:
    """In a fresh process: warm up, then time one generation's training and score it."""
    import torch

    from collapse_sim.components import RunContext
    from collapse_sim.metrics.detection import DetectionMetrics
    from collapse_sim.trainers.yolo import YOLOTrainer
    from collapse_sim.trainers.yolo_fast import YOLOFastTrainer

    real = generation_data(imgsz, images, test_size=test_size)
    make = YOLOTrainer if kind == "stock" else YOLOFastTrainer
    folder = Path(tempfile.mkdtemp(prefix=f"train_core_{kind}_"))
    warm = make(imgsz=imgsz, epochs=1, batch=batch, device=device)
    warm.setup(RunContext(folder / "warm-up", 0, real=real))
    warm.fit(real.train.take(range(2 * batch)), init=None, rng=np.random.default_rng(0), generation=0)
    trainer = make(imgsz=imgsz, epochs=epochs, batch=batch, device=device)
    trainer.setup(RunContext(folder, 0, real=real))
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    began = synchronised_time(device)
    detector = trainer.fit(real.train, init=None, rng=np.random.default_rng([seed, 1]), generation=0)
    wall = synchronised_time(device) - began
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    scores = DetectionMetrics().measure(detector, real.train, real)
    return {
        "kind": kind,
        "seed": seed,
        "wall_s": wall,
        "images_per_s": images * epochs / wall,
        "map50": float(scores.map50),
        "map50_95": float(scores.map50_95),
        "peak_rss_mb": peak_rss_mb,
        "peak_gpu_mb": peak_gpu_mb,
    }


def _in_fresh_process(function, *args):
    with ProcessPoolExecutor(1, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
        return pool.submit(function, *args).result()


def _in_this_process(function, *args):
    return function(*args)


def compare(imgsz: int, args, peak: float) -> dict:
    """Every seed of both trainers at one image size; sums, means and ratios."""
    runs = {"stock": [], "fast": []}
    measure = _in_this_process if args.same_process else _in_fresh_process
    for seed in range(args.seeds):
        for kind in runs:
            run = measure(
                train_once,
                kind,
                imgsz,
                args.images,
                args.epochs,
                args.batch,
                args.device,
                seed,
                args.test_size,
            )
            runs[kind].append(run)
            print(json.dumps({"imgsz": imgsz, **run}), flush=True)
    step = measure(measure_step, imgsz, args.images, args.batch, args.device, 0, False, "auto", args.floor_s)
    flops = step["training_gflop_per_image"] * 1e9
    trained = args.images * args.epochs
    out = {"imgsz": imgsz, "training_gflop_per_image": flops / 1e9}
    for kind, rows in runs.items():
        wall = float(np.mean([r["wall_s"] for r in rows]))
        out[f"wall_s_{kind}"] = wall
        out[f"images_per_s_{kind}"] = trained / wall
        out[f"map50_{kind}"] = float(np.mean([r["map50"] for r in rows]))
        out[f"map50_95_{kind}"] = float(np.mean([r["map50_95"] for r in rows]))
        out[f"peak_rss_mb_{kind}"] = max(r["peak_rss_mb"] for r in rows)
        if args.device.startswith("cuda"):
            out[f"peak_gpu_mb_{kind}"] = max(r["peak_gpu_mb"] for r in rows)
        out[f"gflops_{kind}"] = flops * trained / wall / 1e9
    # Both trainers fit the same data from the same seed, so the difference is paired by seed.
    paired = [f["map50"] - s["map50"] for f, s in zip(runs["fast"], runs["stock"], strict=True)]
    mean, low, high, _ = mean_interval(paired)
    interval = [low, high] if np.isfinite(low) else None  # one seed has no interval
    out["map50_difference"] = {"mean": mean, "ci95": interval, "per_seed": paired}
    out["speedup"] = out["wall_s_stock"] / out["wall_s_fast"]
    out["flops_fraction"] = out["gflops_fast"] / peak
    steps = math.ceil(args.images / args.batch) * args.epochs
    out["floor_s"] = sum(step["floor_ms"].values()) * steps / 1e3
    out["speedup_bound"] = out["wall_s_stock"] / out["floor_s"]
    return out


def main() -> None:
    """Parse arguments, run both trainers at every size, print the summary JSON last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:<index>")
    parser.add_argument("--imgsz", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--images", type=int, default=200, help="training images in the generation")
    parser.add_argument("--test-size", type=int, default=200, help="real test images mAP is measured on")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=4, help="training seeds per trainer (mAP is noisy)")
    parser.add_argument(
        "--floor-s", type=float, default=1.0, help="seconds each kernel floor is timed for (at least)"
    )
    parser.add_argument(
        "--same-process",
        action="store_true",
        help="measure everything in this process: a quick check that it runs (peak_rss_mb is then the "
        "whole process's, and later trainings find warm caches)",
    )
    args = parser.parse_args()
    began = time.perf_counter()
    peak = (_in_this_process if args.same_process else _in_fresh_process)(matmul_peak_gflops, args.device)
    sizes = [compare(imgsz, args, peak) for imgsz in args.imgsz]
    first = sizes[0]
    summary = {
        **header("train_core", args),
        "epochs": args.epochs,
        "seeds": args.seeds,
        "matmul_peak_gflops": peak,
        "speedup": first["speedup"],
        "flops_fraction": first["flops_fraction"],
        "speedup_bound": first["speedup_bound"],
        "map50_fast": first["map50_fast"],
        "map50_stock": first["map50_stock"],
        "map50_difference": first["map50_difference"],
        "sizes": sizes,
        "benchmark_wall_s": time.perf_counter() - began,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
