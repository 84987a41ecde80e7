"""``trainer=tiny_gpt``'s training throughput, and its sampling with and without the key-value cache.

Training: the trainer's own ``fit`` on random passages of ``--passage`` tokens,
``--steps`` steps at batch ``--batch`` after a warm-up fit, reported as tokens/s
and as the share of a matrix-multiply peak measured in the same run
(``flop_fraction``: 6 FLOPs per parameter and token plus attention). Sampling:
``--rows`` rows of ``--new`` tokens from the trained network, once with the cache
and once recomputing every earlier token, the same random draws; they must give
the same tokens. The model is the shipped shape (4 layers, 4 heads, 128 wide,
1024 tokens) with a context that holds 1 + ``--new`` tokens.

    python benchmarks/text_core.py                  # CPU (~1-2 min)
    python benchmarks/text_core.py --device cuda    # on a GPU

Prints one JSON line last with ``train_tokens_per_s``, ``sample_tokens_per_s``,
``sample_tokens_per_s_without_cache`` and ``kv_cache_speedup``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from step_profile import matmul_peak_gflops, synchronised_time

from collapse_sim.components import RealData, RunContext
from collapse_sim.devices import available_cores
from collapse_sim.text.data import TextSet


class _Tokenizer:
    """The vocabulary a benchmark model needs: its size and an end token."""

    vocab_size, end = 1024, 0


def _cached_steps(network, rows: int, steps: int, device: str) -> float:
    """Seconds for ``steps`` cached one-token forward passes over ``rows`` rows (the network alone)."""
    import torch

    with torch.no_grad():
        token = torch.zeros((rows, 1), dtype=torch.long, device=device)
        _, caches = network(token)
        began = synchronised_time(device)
        for position in range(1, steps):
            _, caches = network(token, caches, start=position)
        return synchronised_time(device) - began


def main() -> None:
    """Train, sample both ways, print the comparison as JSON."""
    import torch

    from collapse_sim.trainers.tiny_gpt import TinyGPTTrainer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--passage", type=int, default=64)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--new", type=int, default=128)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: every core)")
    parser.add_argument("--width", type=int, default=128)
    args = parser.parse_args()
    threads = args.threads or available_cores()
    peak = matmul_peak_gflops(args.device)
    rng = np.random.default_rng(0)
    data = TextSet.real(rng.integers(1, 1024, size=(2000, args.passage)))
    truth = type("Truth", (), {"tokenizer": _Tokenizer()})()
    real = RealData(data, data, truth, lambda n, r: data)
    context = max(args.passage, args.new) + 1

    def trainer(steps: int) -> TinyGPTTrainer:
        made = TinyGPTTrainer(
            width=args.width,
            context=context,
            tokens=steps * args.batch * args.passage,
            batch=args.batch,
            warmup=5,
            device=args.device,
            threads=threads,
        )
        made.setup(RunContext(Path("."), 0, real=real))
        return made

    trainer(3).fit(data, rng=np.random.default_rng(1), generation=0)  # warm-up: allocations, kernels
    began = synchronised_time(args.device)
    model = trainer(args.steps).fit(data, rng=np.random.default_rng(2), generation=0)
    train_s = synchronised_time(args.device) - began
    tokens = args.steps * args.batch * args.passage
    flops = model.network().flops_per_token(args.passage) * tokens / train_s
    prompts = np.zeros((args.rows, 0), dtype=np.int64)
    timed = {}
    for cached in (True, False):
        model.generate(prompts[:2], 4, np.random.default_rng(3), cache=cached)  # warm-up
        began = synchronised_time(args.device)
        out = model.generate(prompts, args.new, np.random.default_rng(4), cache=cached)
        timed[cached] = (synchronised_time(args.device) - began, out)
    with_cache, without = timed[True][0], timed[False][0]
    # Beam search of width 5 (Shumailov et al.'s decoding) over the same rows, with the cache: each
    # row carries five beams, reordered every step, against one sampled continuation.
    model.generate(prompts[:2], 4, None, beams=5)  # warm-up
    began = synchronised_time(args.device)
    model.generate(prompts, args.new, None, beams=5)
    beams_s = synchronised_time(args.device) - began
    # The floor under that ratio: the network alone, one cached step at a time, for 5x the rows.
    forward = {
        rows: _cached_steps(model.network(), rows, args.new, args.device)
        for rows in (args.rows, 5 * args.rows)
    }
    summary = {
        "benchmark": "text_core",
        "device": args.device,
        "threads": threads if args.device == "cpu" else None,
        "torch": torch.__version__,
        "matmul_peak_gflops": round(peak, 1),
        "train_tokens_per_s": round(tokens / train_s),
        "train_gflops": round(flops / 1e9, 2),
        "flop_fraction": round(flops / 1e9 / peak, 4),
        "sample_rows": args.rows,
        "sample_new_tokens": args.new,
        "sample_tokens_per_s": round(args.rows * args.new / with_cache),
        "sample_tokens_per_s_without_cache": round(args.rows * args.new / without),
        "kv_cache_speedup": round(without / with_cache, 2),
        "beam5_tokens_per_s": round(args.rows * args.new / beams_s),
        "beam5_time_over_sampling": round(beams_s / with_cache, 2),
        "forward_5x_rows_over_rows": round(forward[5 * args.rows] / forward[args.rows], 2),
        "same_tokens": bool(np.array_equal(timed[True][1], timed[False][1])),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
