"""Passages of token ids with provenance: the text family's sample set.

Every passage has the same number of tokens (``tokens`` is ``(N, L)``), so
type-token measures compare across generations and corpora; ``origin`` is
``(1, N)`` like every sample set (-1 = real text).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from collapse_sim.samples import REAL, OneChain


@dataclass(frozen=True)
class TextSet(OneChain):
    """Token passages and where each came from (real text, or the generation whose model wrote it)."""

    unit = "passages"

    tokens: np.ndarray
    origin: np.ndarray

    def __post_init__(self) -> None:
        if self.tokens.ndim != 2 or self.origin.shape != (1, len(self.tokens)):
            raise ValueError(f"tokens of shape {self.tokens.shape} but origin of shape {self.origin.shape}")

    @classmethod
    def real(cls, tokens: np.ndarray) -> TextSet:
        """Passages of human-written text."""
        return cls(np.asarray(tokens, dtype=np.int32), np.full((1, len(tokens)), REAL, dtype=np.int32))

    @classmethod
    def made_by(cls, generation: int, tokens: np.ndarray) -> TextSet:
        """Passages written by the model of ``generation``."""
        tokens = np.asarray(tokens, dtype=np.int32)
        return cls(tokens, np.full((1, len(tokens)), generation, dtype=np.int32))

    @property
    def passage_tokens(self) -> int:
        """Tokens per passage."""
        return int(self.tokens.shape[1])

    def __len__(self) -> int:
        return len(self.tokens)

    def take(self, index) -> TextSet:
        """The passages at ``index`` (1-d), in that order."""
        index = np.asarray(index, dtype=int).reshape(-1)
        return TextSet(self.tokens[index], self.origin[:, index])

    @staticmethod
    def concat(parts: list[TextSet]) -> TextSet:
        """Join sets of passages of the same length."""
        parts = [p for p in parts if len(p)] or parts[:1]
        return TextSet(
            np.concatenate([p.tokens for p in parts]), np.concatenate([p.origin for p in parts], 1)
        )

    def content_hash(self) -> str:
        """A short hash of the tokens: the version of this training set."""
        return hashlib.sha256(np.ascontiguousarray(self.tokens, dtype=np.int32).tobytes()).hexdigest()[:16]
