"""Judged by the first model: every generation's passages scored by the chain's generation-0 model, kept
across a resume."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TEXT_MARKS
from test_text import corpus

from collapse_sim.components import RunContext
from collapse_sim.metrics.judge import JUDGE_FILE, QUANTILES, FirstModelJudge
from collapse_sim.models.ngram import NGramModel
from collapse_sim.sources.text import TextFilesSource

pytestmark = list(TEXT_MARKS)


def _world(tmp_path):
    source = TextFilesSource(
        path=str(corpus(tmp_path / "corpus")), passage_tokens=32, tokenizer="characters", vocab_size=300
    )
    real = source.load(np.random.default_rng(0))
    vocab = source.tokenizer.vocab_size
    first = NGramModel(real.train.tokens, vocab_size=vocab, order=3, discount=0.75)
    written = real.train.take(np.arange(20))
    later = NGramModel(written.tokens, vocab_size=vocab, order=1, discount=0.75)  # a different model
    return real, first, later, written


def test_every_generation_is_scored_by_the_first_model_and_a_resumed_chain_keeps_it(tmp_path):
    real, first, later, written = _world(tmp_path)
    judge = FirstModelJudge(bins=16, top=8.0)
    judge.setup(RunContext(tmp_path / "chain_00", 0, real=real))
    at_zero = judge.measure(first, real.train, real)
    assert (tmp_path / "chain_00" / JUDGE_FILE).is_file()
    at_three = judge.measure(later, written, real)
    # The passages' bits per character under the first model, by hand.
    chars = np.array([len(real.truth.tokenizer.decode(p)) for p in written.tokens])
    by_hand = -first.log2_probs(written.tokens).sum(axis=1) / chars
    np.testing.assert_allclose(at_three.gen0_bits_per_char.values, np.quantile(by_hand, QUANTILES))
    assert at_three.gen0_histogram.sum() == pytest.approx(1.0)
    assert np.all(np.diff(at_zero.gen0_bits_per_char.values) >= 0)
    resumed = FirstModelJudge(bins=16, top=8.0)  # a resumed chain: a new process, the same folder
    resumed.setup(RunContext(tmp_path / "chain_00", 0, real=real))
    again = resumed.measure(later, written, real)
    np.testing.assert_array_equal(again.gen0_histogram.values, at_three.gen0_histogram.values)


def test_the_histogram_puts_everything_above_the_top_in_the_last_bin(tmp_path):
    real, first, _, written = _world(tmp_path)
    judge = FirstModelJudge(bins=4, top=0.5)  # every passage scores above half a bit a character
    judge.setup(RunContext(tmp_path, 0, real=real))
    shares = judge.measure(first, written, real).gen0_histogram.values
    np.testing.assert_array_equal(shares, [0, 0, 0, 1])
