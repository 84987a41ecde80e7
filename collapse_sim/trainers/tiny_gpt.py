"""Train a nanoGPT-sized decoder on a generation's passages to a fixed token budget.

AdamW with a linear warm-up and a cosine decay to a tenth of ``lr``, weight
decay on matrices only, gradients clipped at 1. ``warm_start`` fine-tunes the
previous generation's network (Shumailov et al. 2024); otherwise each
generation starts from a fresh initialisation (Gerstgrasser et al. 2024). On a
CPU a seed gives the same weights every time (``threads`` is fixed), so a
killed run resumes to identical values; on CUDA the passages stay on the GPU
and the forward pass runs in bf16 autocast.
"""

from __future__ import annotations

import math

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import RunContext, Trainer, data_of
from collapse_sim.devices import resolve_device
from collapse_sim.errors import ConfigError
from collapse_sim.text.data import TextSet
from collapse_sim.text.decoding import DECODING_OPTIONS


class TinyGPTTrainer(Trainer):
    """A decoder of ``layers`` x ``heads`` x ``width`` over ``context`` tokens, ``tokens`` per generation."""

    chain_bytes = 1.8e9  # a chain process at the shipped size: 1.5-1.6 GB peak RSS measured
    needs = data_of("text") | {"real data", "epoch progress"}  # the tokenizer's vocabulary; progress
    sampling_options = DECODING_OPTIONS  # what TinyGPTModel.generate hands decode()

    def __init__(
        self,
        *,
        layers: int = 4,
        heads: int = 4,
        width: int = 128,
        context: int = 128,
        tokens: int = 400_000,
        batch: int = 12,
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        warmup: int = 50,
        device: str = "auto",
        threads: int = 1,
    ) -> None:
        self.layers, self.heads = positive_int("layers", layers), positive_int("heads", heads)
        self.width, self.context = positive_int("width", width), positive_int("context", context, minimum=8)
        if self.width % self.heads:
            raise ConfigError("width", f"must be a multiple of heads={heads}, got {width}")
        self.tokens, self.batch = positive_int("tokens", tokens), positive_int("batch", batch)
        self.warmup, self.threads = (
            positive_int("warmup", warmup, minimum=0),
            positive_int("threads", threads),
        )
        if not lr > 0:
            raise ConfigError("lr", f"must be > 0, got {lr!r}")
        if not weight_decay >= 0:
            raise ConfigError("weight_decay", f"must be >= 0, got {weight_decay!r}")
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        self.device = resolve_device(device)
        self.vocab_size = self.end = None
        self.progress = None

    def check(self, sim) -> None:
        """A passage (after its end token) and a prompt plus its continuation must fit the context."""
        from collapse_sim.generators.sample_text import SampleTextGenerator

        needed = sim.source.passage_tokens
        if isinstance(sim.generator, SampleTextGenerator):
            needed = max(needed, sim.generator.prompt + sim.generator.length)
        if needed + 1 > self.context:
            raise ConfigError(
                "trainer.context",
                f"is {self.context} tokens but the model must read {needed + 1} (a passage or a prompt "
                "and its continuation, after the end token); raise trainer.context or shorten them",
            )

    def setup(self, context: RunContext) -> None:
        """The run's tokenizer (vocabulary and end token) and the epoch progress callback."""
        tokenizer = context.real.truth.tokenizer
        self.vocab_size, self.end, self.progress = tokenizer.vocab_size, tokenizer.end, context.progress

    def steps(self, data: TextSet) -> int:
        """Optimiser steps that spend the token budget on ``data``'s passages."""
        return max(1, self.tokens // (self.batch * data.passage_tokens))

    def fit(self, data: TextSet, *, init=None, rng: np.random.Generator, generation: int):
        """Train on ``data`` (continuing ``init`` when warm-starting); the network after the last step."""
        import torch

        from collapse_sim.models.tiny_gpt import GPT, GPTShape, TinyGPTModel

        if self.vocab_size is None:
            raise RuntimeError("TinyGPTTrainer.fit before setup(context): the run hands it its tokenizer")
        if self.device == "cpu":
            torch.set_num_threads(self.threads)
        seed = int(rng.integers(2**31))
        torch.manual_seed(seed)
        shape = GPTShape(self.vocab_size, self.context, self.layers, self.heads, self.width)
        network = GPT(shape)
        if init is not None:
            network.load_state_dict(init.state)
        network.to(self.device).train()
        matrices = [p for p in network.parameters() if p.dim() >= 2]
        others = [p for p in network.parameters() if p.dim() < 2]
        optimiser = torch.optim.AdamW(
            [
                {"params": matrices, "weight_decay": self.weight_decay},
                {"params": others, "weight_decay": 0.0},
            ],
            lr=self.lr,
            betas=(0.9, 0.95),
        )
        passages = torch.as_tensor(data.tokens, dtype=torch.long, device=self.device)  # resident
        first = torch.full((self.batch, 1), self.end, dtype=torch.long, device=self.device)
        steps, on_gpu = self.steps(data), self.device.startswith("cuda")
        report = max(1, steps // 10)
        for step in range(steps):
            optimiser.param_groups[0]["lr"] = optimiser.param_groups[1]["lr"] = self._lr(step, steps)
            rows = torch.as_tensor(rng.integers(len(passages), size=self.batch), device=self.device)
            targets = passages[rows]
            inputs = torch.cat([first, targets[:, :-1]], dim=1)
            with torch.autocast("cuda", torch.bfloat16, enabled=on_gpu):
                logits, _ = network(inputs)
            loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimiser.step()
            if self.progress is not None and ((step + 1) % report == 0 or step + 1 == steps):
                self.progress(step + 1, steps)
        state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
        return TinyGPTModel(shape, state, end=self.end, device=self.device)

    def _lr(self, step: int, steps: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, steps - self.warmup)
        return self.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
