"""One tokenizer per run, trained on the real training pool and frozen: every generation is scored on
the same tokens. Byte-level BPE (HF ``tokenizers``) or characters; or a pretrained model's own, read from
the folder ``save_pretrained`` wrote (its ``tokenizer.json``) or the Hugging Face cache's copy of a hub
id's, so the model reads the ids it was trained on.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

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


class PretrainedTokenizer(BPETokenizer):
    """A pretrained model's own fast tokenizer (``tokenizer.json`` in its folder); its end-of-text token
    closes documents."""

    def __init__(self, folder: str) -> None:
        from tokenizers import Tokenizer

        self.folder = Path(folder).expanduser()
        file = self.folder / "tokenizer.json"
        if not file.is_file():
            raise ConfigError(
                "tokenizer",
                f"is {folder!r}: neither bpe, characters nor a folder holding a tokenizer.json (what a fast "
                "tokenizer's save_pretrained writes beside its model)",
            )
        self.tokenizer, self.asked = Tokenizer.from_file(str(file)), None
        eos = _eos_token(self.folder)
        self._end = None if eos is None else self.tokenizer.token_to_id(eos)
        if self._end is None:
            raise ConfigError(
                "tokenizer",
                f"{self.folder} names no end-of-text token its vocabulary holds (eos_token in "
                "tokenizer_config.json); documents must end with one",
            )

    @property
    def vocab_size(self) -> int:
        """Number of token ids, added tokens included."""
        return self.tokenizer.get_vocab_size(with_added_tokens=True)

    @property
    def end(self) -> int:
        """The end-of-text token id."""
        return self._end

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens added)."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids


def _eos_token(folder: Path) -> str | None:
    """The end-of-text token a saved tokenizer names (``eos_token``, a string or ``{"content": ...}``)."""
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        path = folder / name
        if path.is_file():
            eos = json.loads(path.read_text()).get("eos_token")
            if eos:
                return eos["content"] if isinstance(eos, dict) else str(eos)
    return None


def make_tokenizer(kind: str, documents: list[str], vocab_size: int):
    """The run's tokenizer, trained on ``documents`` (or a pretrained model's, read from its folder or
    from the Hugging Face cache by its hub id)."""
    if kind in KINDS:
        return CharacterTokenizer(documents) if kind == "characters" else BPETokenizer(documents, vocab_size)
    folder = Path(kind).expanduser()
    return PretrainedTokenizer(str(folder if folder.is_dir() else cached_folder(kind)))


def cached_folder(model_id: str) -> Path:
    """The folder of ``model_id``'s files in this machine's Hugging Face cache, read without the network
    (a tokenizer is small: a user with the hub downloads it once, as the refusal says)."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    from collapse_sim.errors import first_line

    try:
        return Path(snapshot_download(model_id, local_files_only=True))
    except Exception as error:  # not cached, not a valid id, an unreadable cache
        why = "" if isinstance(error, LocalEntryNotFoundError) else f": {first_line(error)}"
        raise ConfigError(
            "tokenizer",
            f"is {model_id!r}: neither {', '.join(KINDS)}, a folder holding a tokenizer.json, nor a model "
            f"id in this machine's Hugging Face cache ({constants.HF_HUB_CACHE}{why}). Give the model's "
            f"folder, or download its tokenizer once: hf download {model_id} tokenizer.json "
            "tokenizer_config.json",
        ) from None


def passages(tokenizer, documents: list[str], length: int) -> np.ndarray:
    """The documents' tokens, each closed by the end token, cut into whole passages of ``length``."""
    stream = [t for d in documents for t in (*tokenizer.encode(d), tokenizer.end)]
    whole = len(stream) // length
    return np.asarray(stream[: whole * length], dtype=np.int32).reshape(whole, length)
