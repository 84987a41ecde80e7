"""A Hugging Face ``transformers`` causal language model: scored and sampled as ``tiny_gpt`` is.

Scoring reads each passage after the end token, as ``TinyGPTModel`` does, so
bits per character mean the same for both; sampling and beam search go
through ``text.decoding.decode`` (the run's random streams, so a resumed run
draws the same tokens) over the model's own forward pass and key-value cache.
"""

from __future__ import annotations

import numpy as np
import torch

from collapse_sim.models.tiny_gpt import passage_log2_probs
from collapse_sim.text.decoding import DECODING_OPTIONS, decode


def quiet_transformers():
    """``transformers``, its progress bars off: the run reports its own progress, and a bar's lock (a
    multiprocessing semaphore) would outlive a chain worker that ends at once."""
    import transformers

    transformers.utils.logging.disable_progress_bar()
    return transformers


def build_network(config, state: dict | None = None):
    """A causal language model of ``config`` (a ``transformers`` config), with ``state`` loaded."""
    network = quiet_transformers().AutoModelForCausalLM.from_config(config)
    if state is not None:
        network.load_state_dict(state)
    return network


class HFCausalLMModel:
    """A trained network's config and weights (on the CPU), and how to score and sample with it."""

    sampling_options = DECODING_OPTIONS

    def __init__(self, config, state: dict, *, end: int, device: str, trainable_share: float = 1.0) -> None:
        self.config, self.state, self.end, self.device = config, state, end, device
        self.trainable_share = trainable_share  # of the parameters the last fine-tuning updated (LoRA < 1)
        self._network = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_network": None}  # checkpoints keep the weights, not the module

    @property
    def vocab_size(self) -> int:
        """The model's vocabulary size."""
        return int(self.config.vocab_size)

    def network(self):
        """The network with these weights, in evaluation mode on the model's device."""
        if self._network is None:
            self._network = build_network(self.config, self.state).to(self.device).eval()
        return self._network

    def save(self, folder) -> None:
        """The model as ``save_pretrained`` writes it (safetensors and its config)."""
        self.network().save_pretrained(folder)

    def log2_probs(self, passages: np.ndarray, batch: int = 64) -> np.ndarray:
        """log2 of the probability of each token of ``passages`` ``(N, L)`` given what precedes it (read after
        the end token, as ``tiny_gpt``'s)."""
        network = self.network()

        def logits_of(inputs):
            return network(input_ids=inputs, use_cache=False).logits

        return passage_log2_probs(logits_of, passages, self.end, self.device, batch)

    @torch.no_grad()
    def generate(
        self, prompts: np.ndarray, length: int, rng: np.random.Generator, *, cache: bool = True, **options
    ) -> np.ndarray:
        """``length`` new tokens after each prompt row ``(D, p)``: ``(D, length)``; options as ``decode``'s.

        ``cache=False`` recomputes every earlier token at each step (the benchmark's baseline)."""
        decoder = _CachedDecoder(self.network(), prompts, self.end, self.device, cache)
        return decode(decoder, prompts, length, rng, vocab_size=self.vocab_size, **options)


class _CachedDecoder:
    """The network's next-token distributions over rows of prompts, with its key-value cache."""

    def __init__(self, network, prompts: np.ndarray, end: int, device: str, cache: bool) -> None:
        self.network, self.device, self.cache = network, device, cache
        start = torch.full((len(prompts), 1), end, dtype=torch.long, device=device)
        self.sequence = torch.cat([start, torch.as_tensor(prompts, dtype=torch.long, device=device)], dim=1)
        out = network(input_ids=self.sequence, use_cache=cache)
        self.logits, self.past = out.logits, out.cache

    def probs(self) -> np.ndarray:
        """Each row's next-token distribution ``(D, V)``, in float64."""
        return torch.softmax(self.logits[:, -1].detach().double(), dim=-1).cpu().numpy()

    def advance(self, parents: np.ndarray | None, tokens: np.ndarray) -> None:
        """Continue row ``parents[i]`` (or row ``i``) with ``tokens[i]``."""
        if parents is not None:
            index = torch.as_tensor(parents, device=self.device)
            self.sequence = self.sequence[index]
            if self.cache:
                self.past.reorder_cache(index)
        token = torch.as_tensor(np.asarray(tokens)[:, None], dtype=torch.long, device=self.device)
        self.sequence = torch.cat([self.sequence, token], dim=1)
        if self.cache:
            out = self.network(input_ids=token, cache=self.past, use_cache=True)
        else:
            out = self.network(input_ids=self.sequence, use_cache=False)
        self.logits, self.past = out.logits, out.cache
