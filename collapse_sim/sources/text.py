"""Real text: the Wikipedia articles that ship inside gensim's wheel, or a user's own UTF-8 corpus.

The documents are split once, by document, into a training pool and a fixed
test set that no generation trains on (a fixed permutation, the same for every
run and seed). One tokenizer is trained on the training pool and frozen; each
pool is then cut into passages of ``passage_tokens`` tokens, the unit a
generation trains on (``n_samples`` passages), so runs of different corpora
compare. ``pool_size`` of those passages (a random subset fixed by the seed,
the same for every chain) are the real data the run has, as in every family.
All of it happens when the source is built: a corpus too small, a vocabulary
it cannot fill or an unreadable file stops the run before any work.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import RealData, Source, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.text.corpus import require_gensim, text_file_documents, wikipedia_documents
from collapse_sim.text.data import TextSet
from collapse_sim.text.tokenizer import make_tokenizer, passages
from collapse_sim.text.words import words

RARE_COUNT = 3  # a word seen at most this often in the real pool is rare


@dataclass(frozen=True)
class TextTruth:
    """What the metrics compare against: the run's tokenizer and the real pool's words."""

    tokenizer: object
    word_counts: Counter
    rare_words: frozenset[str]
    pretrain: TextSet | None = None  # the pretraining split's passages (source.pretrain_share), if any


_PREPARED: dict[tuple, tuple] = {}  # the same corpus and settings are split and tokenized once a process


def _digest(documents: list[str]) -> str:
    digest = hashlib.sha256()
    for d in documents:
        digest.update(d.encode() + b"\0")
    return digest.hexdigest()


class TextSource(Source):
    """Documents split into a training pool and a test set, tokenized once, cut into passages."""

    provides = data_of("text")

    def __init__(
        self,
        documents: list[str],
        *,
        passage_tokens: int,
        tokenizer: str,
        vocab_size: int,
        test_share: float,
        pool_size: int | None,
        what: str,
        key: str,
        pretrain_share: float = 0.0,
    ) -> None:
        self.passage_tokens = positive_int("passage_tokens", passage_tokens, minimum=8)
        if not 0 <= pretrain_share < 1:
            raise ConfigError(
                "pretrain_share",
                "must be in [0, 1) (the share of training documents kept apart for pretraining), "
                f"got {pretrain_share!r}",
            )
        if not 0 < test_share < 1:
            raise ConfigError(
                "test_share", f"must be in (0, 1) (the documents kept for testing), got {test_share!r}"
            )
        order = np.random.default_rng(0).permutation(len(documents))  # fixed: the split is the corpus's
        n_test = max(1, round(test_share * len(documents)))
        if len(documents) - n_test < 1:
            held = "one document" if len(documents) == 1 else f"{len(documents)} documents"
            raise ConfigError(
                key,
                f"{what} holds {held}: too few for a test set and a training pool (at least 2); give "
                "more documents (files, or paragraphs separated by blank lines)",
            )
        n_pretrain = round(pretrain_share * (len(documents) - n_test))
        if n_pretrain and len(documents) - n_test - n_pretrain < 1:
            raise ConfigError("pretrain_share", f"leaves no document of {what} for the real pool; lower it")
        key = (_digest(documents), self.passage_tokens, tokenizer, vocab_size, n_test, n_pretrain)
        if key not in _PREPARED:
            split = (order[:n_test], order[n_test : n_test + n_pretrain], order[n_test + n_pretrain :])
            _PREPARED[key] = self._prepare(documents, split, tokenizer, vocab_size, what)
        self.tokenizer, self.train, self.test, self.truth = _PREPARED[key]
        self.test_size, self.sample_bytes = len(self.test), self.train.tokens[0].nbytes
        self.pool_size = len(self.train) if pool_size is None else positive_int("pool_size", pool_size)
        if self.pool_size > len(self.train):
            raise ConfigError(
                "pool_size",
                f"asks for {self.pool_size} real passages but {what} gives {len(self.train)} of "
                f"{self.passage_tokens} tokens; lower it (or n_samples), or null for all of them",
            )

    def _prepare(self, documents, split, tokenizer: str, vocab_size: int, what: str) -> tuple:
        test_docs, pretrain_docs, train_docs = ([documents[i] for i in sorted(part)] for part in split)
        # The tokenizer reads every non-test document, so a pretraining split leaves it unchanged.
        seen = sorted(np.concatenate(split[1:]))
        tokens = make_tokenizer(
            tokenizer, [documents[i] for i in seen], positive_int("vocab_size", vocab_size, minimum=300)
        )
        if tokenizer == "bpe" and tokens.vocab_size < vocab_size:  # an upper bound: say what was used
            used = tokens.vocab_size
            print(
                f"source.vocab_size: {what} fills {used} of the {vocab_size} BPE tokens asked for; the run "
                f"uses {used} (recorded as vocab_size in the store)"
            )
        train = TextSet.real(passages(tokens, train_docs, self.passage_tokens))
        test = TextSet.real(passages(tokens, test_docs, self.passage_tokens))
        if not len(test):
            raise ConfigError(
                "test_share",
                f"leaves {len(test_docs)} test documents of {what}, shorter than one passage of "
                f"{self.passage_tokens} tokens; raise source.test_share or give a larger corpus",
            )
        counts = Counter(w for d in train_docs for w in words(d))
        pretrain = (
            TextSet.real(passages(tokens, pretrain_docs, self.passage_tokens)) if pretrain_docs else None
        )
        rare = frozenset(w for w, c in counts.items() if c <= RARE_COUNT)
        truth = TextTruth(tokens, counts, rare, pretrain)
        return tokens, train, test, truth

    def load(self, rng: np.random.Generator) -> RealData:
        """``pool_size`` training passages, the test set's, and the tokenizer with the corpus's words."""
        pool = self.train if self.pool_size == len(self.train) else self.train.subsample(self.pool_size, rng)

        def draw(n: int, draw_rng: np.random.Generator) -> TextSet:
            return pool.subsample(n, draw_rng)  # a corpus has no new text: resample the pool

        return RealData(pool, self.test, self.truth, draw)


class WikipediaSource(TextSource):
    """The shortened English Wikipedia dump in gensim's wheel (about 100 articles after cleaning)."""

    def __init__(
        self,
        *,
        passage_tokens: int = 64,
        tokenizer: str = "bpe",
        vocab_size: int = 1024,
        test_share: float = 0.1,
        pool_size: int | None = None,
        pretrain_share: float = 0.0,
    ) -> None:
        require_gensim("source")
        super().__init__(
            wikipedia_documents(),
            passage_tokens=passage_tokens,
            tokenizer=tokenizer,
            vocab_size=vocab_size,
            test_share=test_share,
            pool_size=pool_size,
            pretrain_share=pretrain_share,
            what="the Wikipedia dump",
            key="",
        )


class TextFilesSource(TextSource):
    """A user's UTF-8 corpus: a file (documents between blank lines) or a folder of ``.txt`` files."""

    def __init__(
        self,
        *,
        path: str,
        passage_tokens: int = 64,
        tokenizer: str = "bpe",
        vocab_size: int = 1024,
        test_share: float = 0.1,
        pool_size: int | None = None,
        pretrain_share: float = 0.0,
    ) -> None:
        super().__init__(
            text_file_documents(path),
            passage_tokens=passage_tokens,
            tokenizer=tokenizer,
            vocab_size=vocab_size,
            test_share=test_share,
            pool_size=pool_size,
            pretrain_share=pretrain_share,
            what=str(path),
            key="path",
        )
