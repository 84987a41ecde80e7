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


def test_a_text_sweep_draws_one_histogram_panel_per_arm(tmp_path):
    import xarray as xr

    from collapse_sim.reporting.captions import sweep_caption
    from collapse_sim.reporting.sweep import plot_sweep_histograms

    rng = np.random.default_rng(0)
    shares = rng.dirichlet(np.ones(8), size=(2, 3, 4))  # (arm, chain, generation) x 8 bins
    real, first, _, _ = _world(tmp_path)
    judge = FirstModelJudge(bins=8, top=8.0)
    judge.setup(RunContext(tmp_path / "chain_00", 0, real=real))
    declared = judge.measure(first, real.train, real).gen0_histogram.attrs  # what the metric declares
    ds = xr.Dataset(
        {"gen0_histogram": (("mixing", "replicate", "generation", "gen0_bin"), shares, declared)},
        coords={"mixing": ["replace", "fraction"], "generation": range(4), "gen0_bin": np.arange(8.0)},
        attrs={"swept": ["mixing"]},  # as open_sweep records it
    )
    (path,) = plot_sweep_histograms(ds, tmp_path)
    assert path.name == "judged_by_generation_0.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    assert "mean of 3 chains" in sweep_caption(path, ds, "mixing")
    assert plot_sweep_histograms(ds.drop_vars("gen0_histogram"), tmp_path) == []
