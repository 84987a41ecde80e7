"""The facts measure: years and capitalised multi-word names, read the same way in real and generated text."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest

from collapse_sim.metrics.text import TextMetrics
from collapse_sim.sources.text import TextTruth
from collapse_sim.text.data import TextSet
from collapse_sim.text.facts import names, years
from collapse_sim.text.tokenizer import CharacterTokenizer

SAMPLE = (
    "In 1789 the French Revolution began. The Abbasid Caliphate fell in 1258, not in 12580, "
    "3.1415 or 1,999. He met John Smith and Mary Ann Jones in 2021. The Hague hosted it."
)


def test_years_are_four_digit_numbers_from_1000_to_2099_standing_alone():
    assert years(SAMPLE) == ["1789", "1258", "2021"]
    assert years("0999 2100 1000 2099 1500s (1642-1727)") == ["1000", "2099", "1642", "1727"]


def test_names_are_two_or_more_capitalised_words_after_a_sentence_start_word_is_dropped():
    assert names(SAMPLE) == ["French Revolution", "Abbasid Caliphate", "John Smith", "Mary Ann Jones"]
    assert names("The Hague. In Paris. The United Nations met.") == ["United Nations"]  # one word left: none


def _real(documents: list[str]):
    """A real world whose pool is these documents, one passage each (characters, padded by spaces)."""
    tokenizer = CharacterTokenizer(documents)
    width = max(map(len, documents))
    tokens = [tokenizer.encode(d.ljust(width)) for d in documents]
    truth = TextTruth(tokenizer, Counter(), frozenset())
    return SimpleNamespace(train=TextSet.real(tokens), truth=truth)


def test_recall_counts_the_real_pool_s_years_and_names_the_text_still_holds():
    real = _real(["Napoleon Bonaparte won in 1805 and lost in 1815.", "The French Revolution began in 1789."])
    text = ["In 1789 Napoleon Bonaparte met Joseph Fouche in 1800."]  # 9 words
    facts = TextMetrics().facts(text, real, word_count=9)
    value = {k: float(v.values) for k, v in facts.items()}
    assert value["year_recall"] == pytest.approx(1 / 3)  # 1789 of 1805, 1815, 1789 (1800 is not real)
    assert value["name_recall"] == pytest.approx(1 / 2)  # Napoleon Bonaparte of it and French Revolution
    # 1789, 1800 and four name words (Joseph Fouche is a name, if not a real one) of nine words.
    assert value["fact_word_share"] == pytest.approx(6 / 9)
    again = TextMetrics().facts(text * 2, real, word_count=18)
    assert {k: float(v.values) for k, v in again.items()} == value  # shares, not counts


def test_a_pool_without_years_has_no_year_recall():
    real = _real(["Napoleon Bonaparte won.", "The French Revolution began."])
    facts = TextMetrics().facts(["Napoleon Bonaparte won in 1805."], real, word_count=5)
    assert np.isnan(float(facts["year_recall"].values)) and float(facts["name_recall"].values) == 0.5
