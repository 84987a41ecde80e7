"""One tokenizer per run, trained on the real training pool and frozen: every generation is scored on
the same tokens. Byte-level BPE (HF ``tokenizers``) or characters.
"""

from __future__ import annotations

import hashlib

import numpy as np

from collapse_sim.errors import ConfigError

END = "<|end|>"  # closes every document, so a model learns where one ends
KINDS = ("bpe", "characters")


class CharacterTokenizer:
    """Characters of the training pool, plus the end token and one for characters never seen."""

    def __init__(self, documents: list[str]) -> None:
        self.alphabet = [END, "\ufffd", *sorted({c for d in documents for c in d})]
        self.index = {c: i for i, c in enumerate(self.alphabet)}

    @property
    def vocab_size(self) -> int:
        """Number of token ids."""
        return len(self.alphabet)

    @property
    def end(self) -> int:
        """The end-of-document token id."""
        return 0

    @property
    def fingerprint(self) -> str:
        """A hash of the vocabulary: two tokenizers with the same one map text to the same ids."""
        return hashlib.sha256("\0".join(self.alphabet).encode()).hexdigest()[:16]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``."""
        return [self.index.get(c, 1) for c in text]

    def decode(self, ids) -> str:
        """Text of token ids (the end token becomes a blank line)."""
        return "".join("\n\n" if i == 0 else self.alphabet[i] for i in ids)


class BPETokenizer:
    """Byte-level BPE with ``vocab_size`` ids, trained once (HF ``tokenizers``)."""

    def __init__(self, documents: list[str], vocab_size: int) -> None:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        self.tokenizer = Tokenizer(models.BPE())
        self.tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        self.tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=[END],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        # vocab_size is an upper bound (as in HF tokenizers): a small corpus fills fewer merges.
        self.tokenizer.train_from_iterator(documents, trainer)
        self.asked = vocab_size

    @property
    def vocab_size(self) -> int:
        """Number of token ids."""
        return self.tokenizer.get_vocab_size()

    @property
    def end(self) -> int:
        """The end-of-document token id."""
        return self.tokenizer.token_to_id(END)

    @property
    def fingerprint(self) -> str:
        """A hash of the vocabulary and merges: two tokenizers with the same one map text to the same ids."""
        return hashlib.sha256(self.tokenizer.to_str().encode()).hexdigest()[:16]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``."""
        return self.tokenizer.encode(text).ids

    def decode(self, ids) -> str:
        """Text of token ids (the end token becomes a blank line)."""
        ids = [int(i) for i in ids]
        parts, current = [], []
        for i in ids:
            if i == self.end:
                parts.append(self.tokenizer.decode(current))
                current = []
            else:
                current.append(i)
        parts.append(self.tokenizer.decode(current))
        return "\n\n".join(parts)


def make_tokenizer(kind: str, documents: list[str], vocab_size: int):
    """The run's tokenizer, trained on ``documents``."""
    if kind not in KINDS:
        raise ConfigError("tokenizer", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    return CharacterTokenizer(documents) if kind == "characters" else BPETokenizer(documents, vocab_size)


def passages(tokenizer, documents: list[str], length: int) -> np.ndarray:
    """The documents' tokens, each closed by the end token, cut into whole passages of ``length``."""
    stream = [t for d in documents for t in (*tokenizer.encode(d), tokenizer.end)]
    whole = len(stream) // length
    return np.asarray(stream[: whole * length], dtype=np.int32).reshape(whole, length)
