"""A nanoGPT-sized decoder-only transformer, written for collapse_sim, with a key-value cache for sampling.

Token and position embeddings, ``layers`` pre-norm blocks of causal self-attention
and a 4x MLP, a final norm and a head tied to the token embedding. Every
passage is read after the end-of-document token, so its first token is
predicted too. Sampling runs the prompt once and then one token at a time,
attending to the cached keys and values of the tokens before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from collapse_sim.text.decoding import DECODING_OPTIONS, decode


@dataclass(frozen=True)
class GPTShape:
    """The network's size: vocabulary, context, layers, heads, width."""

    vocab_size: int
    context: int
    layers: int
    heads: int
    width: int


class _Block(nn.Module):
    def __init__(self, shape: GPTShape) -> None:
        super().__init__()
        self.heads = shape.heads
        self.norm1, self.norm2 = nn.LayerNorm(shape.width), nn.LayerNorm(shape.width)
        self.qkv = nn.Linear(shape.width, 3 * shape.width)
        self.proj = nn.Linear(shape.width, shape.width)
        self.mlp = nn.Sequential(
            nn.Linear(shape.width, 4 * shape.width), nn.GELU(), nn.Linear(4 * shape.width, shape.width)
        )

    def forward(self, x: torch.Tensor, cache: tuple | None) -> tuple[torch.Tensor, tuple]:
        b, t, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        if cache is not None:  # the keys and values of every earlier token
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        # Without a cache the block sees the whole sequence: causal. With one, the new tokens come last.
        causal = cache is None and t > 1
        if cache is not None and t > 1:
            raise ValueError("with a cache, feed one token at a time")
        y = functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.norm2(x)), (k, v)


class GPT(nn.Module):
    """The network: ``forward(tokens, caches, start)`` returns logits and the updated caches."""

    def __init__(self, shape: GPTShape) -> None:
        super().__init__()
        self.shape = shape
        self.tokens = nn.Embedding(shape.vocab_size, shape.width)
        self.positions = nn.Embedding(shape.context, shape.width)
        self.blocks = nn.ModuleList(_Block(shape) for _ in range(shape.layers))
        self.norm = nn.LayerNorm(shape.width)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2's scaled init of the residual projections
            if name.endswith(("proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * shape.layers))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, tokens: torch.Tensor, caches: list | None = None, start: int = 0):
        """Logits ``(B, T, V)`` for ``tokens`` ``(B, T)`` at positions ``start..``, and each block's cache."""
        positions = torch.arange(start, start + tokens.shape[1], device=tokens.device)
        x = self.tokens(tokens) + self.positions(positions)
        new = []
        for block, cache in zip(self.blocks, caches or [None] * len(self.blocks), strict=True):
            x, kept = block(x, cache)
            new.append(kept)
        return self.norm(x) @ self.tokens.weight.T, new

    def flops_per_token(self, sequence: int) -> float:
        """Training FLOPs per token of ``sequence``-token inputs: 6 per parameter plus attention (PaLM's
        appendix B estimate)."""
        return (
            6 * sum(p.numel() for p in self.parameters())
            + 12 * self.shape.layers * self.shape.width * sequence
        )


@torch.no_grad()
def passage_log2_probs(logits_of, passages: np.ndarray, end: int, device: str, batch: int = 64) -> np.ndarray:
    """log2 of the probability of each token of ``passages`` ``(N, L)`` given what precedes it, each passage
    read after the end token: the one definition every language model's bits per character use
    (``logits_of(inputs)``: the model's logits ``(B, L, V)``)."""
    out = []
    for lo in range(0, len(passages), batch):
        targets = torch.as_tensor(passages[lo : lo + batch], dtype=torch.long, device=device)
        inputs = torch.cat([torch.full_like(targets[:, :1], end), targets[:, :-1]], dim=1)
        log_probs = functional.log_softmax(logits_of(inputs).float(), dim=-1)
        scores = log_probs.gather(2, targets[..., None])[..., 0]
        out.append(scores.cpu().numpy() / math.log(2))
    return np.concatenate(out)


class TinyGPTModel:
    """A trained network's weights (on the CPU) and how to score and sample with it."""

    sampling_options = DECODING_OPTIONS

    def __init__(self, shape: GPTShape, state: dict, *, end: int, device: str) -> None:
        self.shape, self.state, self.end, self.device = shape, state, end, device
        self._network: GPT | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_network": None}  # checkpoints keep the weights, not the module

    def network(self) -> GPT:
        """The network with these weights, in evaluation mode on the model's device."""
        if self._network is None:
            self._network = GPT(self.shape)
            self._network.load_state_dict(self.state)
            self._network.to(self.device).eval()
        return self._network

    def log2_probs(self, passages: np.ndarray, batch: int = 64) -> np.ndarray:
        """log2 of the probability of each token of ``passages`` ``(N, L)`` given what precedes it."""
        network = self.network()
        return passage_log2_probs(lambda inputs: network(inputs)[0], passages, self.end, self.device, batch)

    @torch.no_grad()
    def generate(
        self, prompts: np.ndarray, length: int, rng: np.random.Generator, *, cache: bool = True, **options
    ) -> np.ndarray:
        """``length`` new tokens after each prompt row ``(D, p)``: ``(D, length)``; options as ``decode``'s.

        ``cache=False`` recomputes every earlier token at each step (the benchmark's baseline); the
        tokens written are the same.
        """
        decoder = _CachedDecoder(self.network(), prompts, self.end, self.device, cache)
        return decode(decoder, prompts, length, rng, vocab_size=self.shape.vocab_size, **options)


class _CachedDecoder:
    """The network's next-token distributions over rows of prompts, with each row's keys and values."""

    def __init__(self, network: GPT, prompts: np.ndarray, end: int, device: str, cache: bool) -> None:
        self.network, self.device, self.cache = network, device, cache
        start = torch.full((len(prompts), 1), end, dtype=torch.long, device=device)
        self.sequence = torch.cat([start, torch.as_tensor(prompts, dtype=torch.long, device=device)], dim=1)
        self.logits, self.caches = network(self.sequence)

    def probs(self) -> np.ndarray:
        """Each row's next-token distribution ``(D, V)``, in float64."""
        return torch.softmax(self.logits[:, -1].double(), dim=-1).cpu().numpy()

    def advance(self, parents: np.ndarray | None, tokens: np.ndarray) -> None:
        """Continue row ``parents[i]`` (or row ``i``) with ``tokens[i]``."""
        if parents is not None:
            index = torch.as_tensor(parents, device=self.device)
            self.sequence = self.sequence[index]
            self.caches = [(k[index], v[index]) for k, v in self.caches]
        token = torch.as_tensor(np.asarray(tokens)[:, None], dtype=torch.long, device=self.device)
        self.sequence = torch.cat([self.sequence, token], dim=1)
        if self.cache:
            self.logits, self.caches = self.network(token, self.caches, start=self.sequence.shape[1] - 1)
        else:
            self.logits, self.caches = self.network(self.sequence)
