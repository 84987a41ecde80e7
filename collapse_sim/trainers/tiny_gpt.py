"""Train a nanoGPT-sized decoder on a generation's passages.

AdamW with a linear warm-up and a cosine decay to a tenth of ``lr``, weight
decay on matrices only, gradients clipped at 1. Where a generation starts:

- ``base=scratch``: a fresh initialisation each generation (Gerstgrasser et
  al. 2024), trained to ``tokens``; with ``warm_start`` the previous
  generation's network, fine-tuned.
- ``base=pretrain``: once per run, a network is trained for
  ``pretrain_tokens`` on the source's pretraining split (documents never in
  the pool or the test set, ``source.pretrain_share``) and kept as
  ``base.pt`` in the run directory; every chain and a resumed run reuse it,
  and every generation starts again from it and fine-tunes on its data for
  ``epochs`` passes (Shumailov et al. 2024 fine-tune a pretrained OPT-125m so).
- ``base=PATH``: the same from a ``base.pt`` a run wrote (or one of the
  user's), checked against the run's tokenizer and network shape.

On a CPU a seed gives the same weights every time (``threads`` is fixed), so a
killed run resumes to identical values; on CUDA the passages stay on the GPU
and the forward pass runs in bf16 autocast.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import RunContext, Trainer, data_of
from collapse_sim.devices import resolve_device
from collapse_sim.errors import ConfigError
from collapse_sim.text.data import TextSet
from collapse_sim.text.decoding import DECODING_OPTIONS

BASE_FILE = "base.pt"  # the pretrained network, in the run directory
BASE_FORMAT = "collapse_sim.tiny_gpt.base/1"


class TinyGPTTrainer(Trainer):
    """A decoder of ``layers`` x ``heads`` x ``width`` over ``context`` tokens, ``tokens`` per generation."""

    chain_bytes = 1.8e9  # a chain process at the shipped size: 1.5-1.6 GB peak RSS measured
    needs = data_of("text") | {"real data", "epoch progress"}  # the tokenizer's vocabulary; progress
    sampling_options = DECODING_OPTIONS  # what TinyGPTModel.generate hands decode()
    base_name = BASE_FILE  # what base=PATH names

    @staticmethod
    def is_base(path: Path) -> bool:
        """Whether ``path`` could hold a base network (a file; ``_read_base`` checks what it holds)."""
        return path.is_file()

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
        base: str = "scratch",
        epochs: int = 5,
        pretrain_tokens: int = 2_000_000,
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
        self.base = str(base)
        if self.base not in ("scratch", "pretrain") and not self.is_base(Path(self.base)):
            raise ConfigError(
                "base",
                f"is {self.base!r}: neither scratch, pretrain nor a base; give scratch (a fresh network "
                f"each generation), pretrain (one pretrained once per run) or the path of a {self.base_name} "
                "a run wrote",
            )
        self.epochs = positive_int("epochs", epochs)
        self.pretrain_tokens = positive_int("pretrain_tokens", pretrain_tokens)
        self.vocab_size = self.end = self.fingerprint = None
        self.progress = self.base_state = None

    def check(self, sim) -> None:
        """A passage (after its end token) and a prompt plus its continuation must fit the context."""
        needed = max(sim.source.passage_tokens, sim.generator.row_tokens)
        if needed + 1 > self.context:
            raise ConfigError(
                "trainer.context",
                f"is {self.context} tokens but the model must read {needed + 1} (a passage or a prompt "
                "and its continuation, after the end token); raise trainer.context or shorten them",
            )
        if self.base != "scratch" and sim.warm_start:
            raise ConfigError(
                "trainer.base",
                f"is {self.base}: every generation starts again from the base network, while "
                "warm_start=true continues the previous generation's; choose one (warm_start=false, or "
                "trainer.base=scratch)",
            )
        if self.base == "pretrain" and sim.source.truth.pretrain is None:
            raise ConfigError(
                "trainer.base",
                "is pretrain but the source keeps no pretraining split; set source.pretrain_share (e.g. "
                "0.5: half the training documents, never in the pool or the test set)",
            )
        if self.base not in ("scratch", "pretrain"):
            self._read_base(Path(self.base), sim.source.truth.tokenizer, "trainer.base")

    def setup(self, context: RunContext) -> None:
        """The run's tokenizer (vocabulary and end token) and the epoch progress callback."""
        tokenizer = context.real.truth.tokenizer
        self.vocab_size, self.end, self.progress = tokenizer.vocab_size, tokenizer.end, context.progress
        if self.base != "scratch":  # what a base checkpoint records of the vocabulary it was made with
            self.fingerprint = tokenizer.fingerprint
        if self.base == "pretrain":
            self.base_state = self._pretrained(Path(context.run_dir or context.folder), context.real)
        elif self.base != "scratch":
            self.base_state = self._read_base(Path(self.base), tokenizer, "trainer.base")

    def steps(self, data: TextSet) -> int:
        """Optimiser steps on ``data``: ``epochs`` passes from a base, else the token budget."""
        if self.base != "scratch":
            return max(1, math.ceil(self.epochs * len(data) / self.batch))
        return max(1, self.tokens // (self.batch * data.passage_tokens))

    def shape(self):
        """The network's shape for the run's vocabulary."""
        from collapse_sim.models.tiny_gpt import GPTShape

        return GPTShape(self.vocab_size, self.context, self.layers, self.heads, self.width)

    def fit(self, data: TextSet, *, init=None, rng: np.random.Generator, generation: int):
        """Train on ``data`` from the base, or ``init`` when warm-starting, or a fresh network; the network
        after the last step."""
        from collapse_sim.models.tiny_gpt import TinyGPTModel

        if self.vocab_size is None:
            raise RuntimeError("TinyGPTTrainer.fit before setup(context): the run hands it its tokenizer")
        start = self.base_state if self.base_state is not None else (init.state if init else None)
        state = self._train(data, start, self.steps(data), rng, self.progress)
        return TinyGPTModel(self.shape(), state, end=self.end, device=self.device)

    def _train(self, data: TextSet, start: dict | None, steps: int, rng, progress) -> dict:
        """``steps`` AdamW steps on ``data`` from the weights ``start`` (None: a fresh network)."""
        import torch

        from collapse_sim.models.tiny_gpt import GPT

        if self.device == "cpu":
            torch.set_num_threads(self.threads)
        torch.manual_seed(int(rng.integers(2**31)))
        network = GPT(self.shape())
        if start is not None:
            network.load_state_dict(start)
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
        on_gpu = self.device.startswith("cuda")
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
            if progress is not None and ((step + 1) % report == 0 or step + 1 == steps):
                progress(step + 1, steps)
        return {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}

    def _pretrained(self, run_dir: Path, real) -> dict:
        """The run's base network: read from ``run_dir/base.pt``, or trained there once (the first chain
        to get the lock trains it; the others, and a resumed run, read it)."""
        import torch

        from collapse_sim.checkpoints import made_once

        def pretrain() -> dict:
            data = real.truth.pretrain
            steps = max(1, self.pretrain_tokens // (self.batch * data.passage_tokens))
            # One base per run whatever the chain: a fixed seed, the pretraining split only.
            state = self._train(data, None, steps, np.random.default_rng(0), None)
            return {
                "format": BASE_FORMAT,
                "shape": list(vars(self.shape()).values()),
                "tokenizer": self.fingerprint,
                "pretrain": {"passages": len(data), "tokens": steps * self.batch * data.passage_tokens},
                "state": state,
            }

        made = made_once(
            run_dir / BASE_FILE,
            read=lambda path: {"state": self._read_base(path, real.truth.tokenizer, "trainer.base")},
            make=pretrain,
            write=torch.save,
        )
        return made["state"]

    def _read_base(self, path: Path, tokenizer, key: str) -> dict:
        """The weights of a base checkpoint, refused unless it is one, for this tokenizer and shape."""
        import torch

        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - any unreadable file gets the same answer
            saved = error
        if not (isinstance(saved, dict) and saved.get("format") == BASE_FORMAT):
            raise ConfigError(
                key,
                f"{path} is not a tiny_gpt base checkpoint (a run with trainer.base=pretrain writes one "
                f"as {BASE_FILE} in its folder)",
            )
        if saved["tokenizer"] != tokenizer.fingerprint:
            raise ConfigError(
                key,
                f"{path} was made with another tokenizer (vocabulary {saved['tokenizer']}, this run's "
                f"{tokenizer.fingerprint}): the corpus, source.tokenizer, source.vocab_size or "
                "source.test_share differ from that run's",
            )
        from collapse_sim.models.tiny_gpt import GPTShape

        shape = GPTShape(tokenizer.vocab_size, self.context, self.layers, self.heads, self.width)
        if list(saved["shape"]) != list(vars(shape).values()):
            names = ("vocabulary", "context", "layers", "heads", "width")
            theirs = ", ".join(f"{n} {v}" for n, v in zip(names, saved["shape"], strict=True))
            ours = ", ".join(f"{n} {v}" for n, v in zip(names, vars(shape).values(), strict=True))
            raise ConfigError(
                key, f"{path} holds a network of {theirs}; this run's trainer makes {ours}: set them to match"
            )
        return saved["state"]

    def _lr(self, step: int, steps: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, steps - self.warmup)
        return self.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
