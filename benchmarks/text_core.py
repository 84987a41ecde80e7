"""``trainer=tiny_gpt``'s training throughput, and its sampling with and without the key-value cache;
the same for ``trainer=hf_causal_lm`` (a transformers GPT-2 of the same size) beside it.

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
``sample_tokens_per_s_without_cache`` and ``kv_cache_speedup``, and the HF model's as ``hf_...``
(its ``hf_flop_fraction`` counts 6 FLOPs a parameter and token, no attention).
"""

from __future__ import annotations

import argparse
import json
import tempfile
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


def _trainers(cls, args, real, threads: int, context: int, **fixed):
    """A function making a trainer of ``cls`` for ``steps`` steps at the benchmark's shape, set up on ``real``
    with a scratch folder of its own (where a transformers model writes its latest weights)."""

    def trainer(steps: int):
        made = cls(
            width=args.width,
            context=context,
            tokens=steps * args.batch * args.passage,
            batch=args.batch,
            warmup=5,
            device=args.device,
            threads=threads,
            **fixed,
        )
        made.setup(RunContext(Path(tempfile.mkdtemp()), 0, real=real))
        return made

    return trainer


def _timed(trainer, args, data) -> tuple:
    """A model trained for ``args.steps`` (after a warm-up fit), and the seconds of its training, of
    sampling ``args.rows`` rows with and without the cache (the same tokens?), and of beam search."""
    trainer(3).fit(data, rng=np.random.default_rng(1), generation=0)  # warm-up: allocations, kernels
    began = synchronised_time(args.device)
    model = trainer(args.steps).fit(data, rng=np.random.default_rng(2), generation=0)
    timed = {"train_s": synchronised_time(args.device) - began}
    prompts, outs = np.zeros((args.rows, 0), dtype=np.int64), {}
    for cached in (True, False):
        model.generate(prompts[:2], 4, np.random.default_rng(3), cache=cached)  # warm-up
        began = synchronised_time(args.device)
        outs[cached] = model.generate(prompts, args.new, np.random.default_rng(4), cache=cached)
        timed["with_cache" if cached else "without_cache"] = synchronised_time(args.device) - began
    # Beam search of width 5 (Shumailov et al.'s decoding) over the same rows, with the cache: each
    # row carries five beams, reordered every step, against one sampled continuation.
    model.generate(prompts[:2], 4, None, beams=5)  # warm-up
    began = synchronised_time(args.device)
    model.generate(prompts, args.new, None, beams=5)
    timed["beams_s"] = synchronised_time(args.device) - began
    timed["same_tokens"] = bool(np.array_equal(outs[True], outs[False]))
    return model, timed


def _hf_rows(args, real, data, threads: int, context: int, peak: float) -> dict:
    """The same measurements for a transformers GPT-2 of tiny_gpt's shape, as ``hf_...``."""
    from collapse_sim.trainers.hf_causal_lm import HFCausalLMTrainer

    trainer = _trainers(HFCausalLMTrainer, args, real, threads, context, architecture="gpt2")
    model, timed = _timed(trainer, args, data)
    tokens = args.steps * args.batch * args.passage
    parameters = model.network().num_parameters()
    gflops = 6 * parameters * tokens / timed["train_s"] / 1e9
    return {
        "hf_parameters": parameters,
        "hf_train_tokens_per_s": round(tokens / timed["train_s"]),
        "hf_flop_fraction": round(gflops / peak, 4),
        "hf_sample_tokens_per_s": round(args.rows * args.new / timed["with_cache"]),
        "hf_sample_tokens_per_s_without_cache": round(args.rows * args.new / timed["without_cache"]),
        "hf_kv_cache_speedup": round(timed["without_cache"] / timed["with_cache"], 2),
        "hf_beam5_tokens_per_s": round(args.rows * args.new / timed["beams_s"]),
        "hf_beam5_time_over_sampling": round(timed["beams_s"] / timed["with_cache"], 2),
        "hf_same_tokens": timed["same_tokens"],
    }


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

    model, timed = _timed(_trainers(TinyGPTTrainer, args, real, threads, context), args, data)
    tokens = args.steps * args.batch * args.passage
    flops = model.network().flops_per_token(args.passage) * tokens / timed["train_s"]
    # The floor under beam search's cost: the network alone, one cached step at a time, for 5x the rows.
    forward = {
        rows: _cached_steps(model.network(), rows, args.new, args.device)
        for rows in (args.rows, 5 * args.rows)
    }
    hf = _hf_rows(args, real, data, threads, context, peak)
    with_cache, without, beams_s = timed["with_cache"], timed["without_cache"], timed["beams_s"]
    summary = {
        "benchmark": "text_core",
        "device": args.device,
        "threads": threads if args.device == "cpu" else None,
        "torch": torch.__version__,
        "matmul_peak_gflops": round(peak, 1),
        "train_tokens_per_s": round(tokens / timed["train_s"]),
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
        "same_tokens": timed["same_tokens"],
        **hf,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
