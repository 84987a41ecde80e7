"""Text metrics: the model on the fixed real test set; the generation's training text against the real pool.

Type-token measures depend on how much text is counted, so they are taken on
windows of ``window`` words of the generation's training text and averaged;
repetition is per passage (Drayson et al. 2025: rep-n); self-BLEU compares up
to ``bleu_passages`` passages with the others (sacrebleu, BLEU-4).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import xarray as xr

from collapse_sim.checks import positive_int
from collapse_sim.components import Metric, RealData, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.metrics import NON_NEGATIVE, SHARE, Figure, measured, variable
from collapse_sim.models.ngram import NGramModel
from collapse_sim.text.data import TextSet
from collapse_sim.text.facts import names, years
from collapse_sim.text.words import readable, words

DISTINCT = (1, 2, 3, 4)
REPEATED = (2, 3, 4)
SAMPLE_PASSAGES, SAMPLE_CHARS = 3, 400  # the text a chain keeps of each generation, for its report


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    """The word n-grams of a sequence, in order."""
    return list(zip(*(tokens[i:] for i in range(n)), strict=False))


def bits_per_char(model, data: TextSet, chars: int) -> float:
    """The model's cross-entropy on ``data``'s tokens, in bits per character of their text."""
    return float(-np.sum(model.log2_probs(data.tokens)) / chars)


def zipf_slope(counts: Counter, ranks: int = 1000) -> float:
    """Slope of log frequency against log rank over the ``ranks`` commonest words (about -1 for prose)."""
    frequency = np.sort(np.fromiter(counts.values(), float))[::-1][:ranks]
    if len(frequency) < 3:
        return float("nan")
    return float(np.polyfit(np.log(np.arange(1, len(frequency) + 1)), np.log(frequency), 1)[0])


def jensen_shannon(a: Counter, b: Counter) -> float:
    """Jensen–Shannon distance (base 2, in [0, 1]) between two word-frequency distributions."""
    from scipy.spatial.distance import jensenshannon

    vocabulary = sorted(a.keys() | b.keys())  # a fixed order: the sum is the same in every process
    p = np.array([a.get(w, 0) for w in vocabulary], float)
    q = np.array([b.get(w, 0) for w in vocabulary], float)
    return float(jensenshannon(p, q, base=2))


def self_bleu(passages: list[str]) -> float:
    """Mean BLEU-4 (in [0, 1]) of each passage against all the others as references."""
    from sacrebleu.metrics import BLEU

    bleu = BLEU(effective_order=True)
    scores = [bleu.sentence_score(p, passages[:i] + passages[i + 1 :]).score for i, p in enumerate(passages)]
    return float(np.mean(scores) / 100) if len(passages) > 1 else float("nan")


def _share(kept: set, of: frozenset) -> float:
    """``len(kept) / len(of)``; NaN when there is nothing to keep."""
    return len(kept) / len(of) if of else float("nan")


class TextMetrics(Metric):
    """Held-out bits per character, and the diversity, repetition and drift of the generation's text."""

    needs = data_of("text")

    def __init__(
        self,
        *,
        window: int = 1000,
        bleu_passages: int = 40,
        reference_order: int = 3,
        test_passages: int | None = None,
    ) -> None:
        if not (isinstance(window, int) and window >= 50):
            raise ConfigError("window", f"must be an integer >= 50 (words per window), got {window!r}")
        self.window, self.bleu_passages, self.reference_order = window, bleu_passages, reference_order
        self.test_passages = None if test_passages is None else positive_int("test_passages", test_passages)
        self._reference: dict[str, tuple] = {}
        self._facts: dict[str, tuple[frozenset, frozenset]] = {}

    def reference(self, real: RealData) -> tuple[NGramModel, TextSet, int]:
        """A Kneser–Ney model of the real pool (what a generation-0 n-gram learns), the test passages
        scored (the first ``test_passages``, or all) and their characters, made once per real world."""
        key = real.train.content_hash()
        if key not in self._reference:
            tokenizer = real.truth.tokenizer
            model = NGramModel(
                real.train.tokens, vocab_size=tokenizer.vocab_size, order=self.reference_order, discount=0.75
            )
            test = real.test
            if self.test_passages is not None and self.test_passages < len(test):
                test = test.take(np.arange(self.test_passages))
            self._reference[key] = model, test, sum(len(tokenizer.decode(p)) for p in test.tokens)
        return self._reference[key]

    def real_facts(self, real: RealData) -> tuple[frozenset, frozenset]:
        """The years and names the real pool's passages hold (``collapse_sim.text.facts``), once per
        real world."""
        key = real.train.content_hash()
        if key not in self._facts:
            texts = [real.truth.tokenizer.decode(p) for p in real.train.tokens]
            self._facts[key] = (
                frozenset(y for t in texts for y in years(t)),
                frozenset(n for t in texts for n in names(t)),
            )
        return self._facts[key]

    def facts(self, texts: list[str], real: RealData, word_count: int) -> dict:
        """How much of the real pool's specific content the text keeps, and how much of it is such content."""
        real_years, real_names = self.real_facts(real)
        found_years = [y for t in texts for y in years(t)]
        found_names = [n for t in texts for n in names(t)]
        fact_words = len(found_years) + sum(n.count(" ") + 1 for n in found_names)
        return {
            "year_recall": variable(
                (),
                _share(real_years & set(found_years), real_years),
                units="1",
                description="share of the years (1000-2099) the real pool mentions still in the text "
                "(NaN when it mentions none)",
                valid=SHARE,
            ),
            "name_recall": variable(
                (),
                _share(real_names & set(found_names), real_names),
                units="1",
                description="share of the real pool's capitalised multi-word names still in the text",
                valid=SHARE,
            ),
            "fact_word_share": variable(
                (),
                fact_words / max(1, word_count),
                units="1",
                description="share of the text's words that are years or parts of such names",
                valid=SHARE,
            ),
        }

    def measure(self, model, data: TextSet, real: RealData) -> xr.Dataset:
        """Score ``model`` on the real test set and measure ``data``, the generation's training text."""
        tokenizer, truth = real.truth.tokenizer, real.truth
        reference, test, test_chars = self.reference(real)
        texts = [tokenizer.decode(p) for p in data.tokens]
        per_passage = [words(t) for t in texts]
        stream = [w for p in per_passage for w in p]
        if len(stream) < self.window:
            raise ConfigError(
                "metrics.text.window",
                f"is {self.window} words but the generation's text holds {len(stream)}; lower the window "
                "or raise n_samples",
            )
        windows = [stream[i : i + self.window] for i in range(0, len(stream) - self.window + 1, self.window)]
        counts = [Counter(w) for w in windows]
        everything = Counter(stream)
        chosen = np.linspace(0, len(texts) - 1, min(self.bleu_passages, len(texts))).astype(int)
        rep = [
            np.nanmean([1 - len(set(g)) / len(g) if (g := ngrams(p, n)) else np.nan for p in per_passage])
            for n in REPEATED
        ]
        values = {
            **self.facts(texts, real, len(stream)),
            "test_bits_per_char": variable(
                (),
                bits_per_char(model, test, test_chars),
                units="bits/char",
                description="cross-entropy of the generation's model on the fixed real test set",
                valid=NON_NEGATIVE,
                key=1,
            ),
            "reference_bits_per_char": variable(
                (),
                bits_per_char(reference, data, sum(map(len, texts))),
                units="bits/char",
                description="the generation's training text scored by a Kneser-Ney model of the "
                "real pool: low = drifted toward likely sequences",
                valid=NON_NEGATIVE,
            ),
            "types": variable(
                (),
                float(np.mean([len(c) for c in counts])),
                units="words",
                description=f"distinct words per window of {self.window} words of the training text",
                valid=NON_NEGATIVE,
                key=3,
            ),
            "hapax_share": variable(
                (),
                float(np.mean([sum(v == 1 for v in c.values()) / len(c) for c in counts])),
                units="1",
                description="share of a window's distinct words seen once in it",
                valid=SHARE,
            ),
            "distinct_n": variable(
                ("n",),
                [
                    float(np.mean([len(set(ngrams(w, n))) / len(ngrams(w, n)) for w in windows]))
                    for n in DISTINCT
                ],
                units="1",
                description="distinct word n-grams per n-gram, per window",
                valid=SHARE,
            ),
            "repetition": variable(
                ("n_repeated",),
                rep,
                units="1",
                description="share of a passage's word n-grams that repeat an earlier one (rep-n), mean",
                valid=SHARE,
            ),
            "self_bleu": variable(
                (),
                self_bleu([texts[i] for i in chosen]),
                units="1",
                description="BLEU-4 of sampled passages against the others (sacrebleu): high = alike",
                valid=SHARE,
                key=4,
            ),
            "unigram_js": variable(
                (),
                jensen_shannon(everything, truth.word_counts),
                units="1",
                description="Jensen-Shannon distance of word frequencies to the real pool's",
                valid=SHARE,
                key=5,
            ),
            "rare_word_recall": variable(
                (),
                len(truth.rare_words & everything.keys()) / max(1, len(truth.rare_words)),
                units="1",
                description="share of the real pool's rare words (seen <= 3 times) still in the text",
                valid=SHARE,
                key=2,
            ),
            "vocab_size": variable(
                (),
                float(truth.tokenizer.vocab_size),
                units="tokens",
                description="token ids of the run's tokenizer (source.vocab_size is an upper bound)",
                valid=NON_NEGATIVE,
            ),
            "zipf_slope": variable(
                (),
                zipf_slope(everything),
                units="1",
                description="slope of log frequency on log rank, top 1000",
            ),
            "text_sample": variable(
                ("passage",),
                [readable(texts[i] if i < len(texts) else "")[:SAMPLE_CHARS] for i in range(SAMPLE_PASSAGES)],
                units="text",
                description=f"the start of the training text's first {SAMPLE_PASSAGES} passages, as the "
                "reader sees it",
                figure=Figure(
                    "passages",
                    title="What each generation trained on",
                    caption="The start of the first passages of chain 0's training text, generation by "
                    "generation.",
                ),
            ),
        }
        return measured(
            values,
            coords={"n": list(DISTINCT), "n_repeated": list(REPEATED), "passage": range(SAMPLE_PASSAGES)},
        )
