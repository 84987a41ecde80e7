"""The text family: real text offline, one frozen tokenizer, n-gram models against theory, runs, bad input."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
import xarray as xr
from conftest import TEXT_MARKS, refused_in_process, requires_gensim
from markupsafe import escape

import collapse_sim as cs
from collapse_sim.models.ngram import NGramModel
from collapse_sim.reporting.html import write_run_page
from collapse_sim.sources.text import TextFilesSource
from collapse_sim.theory import gini_simpson_expected
from collapse_sim.variables import Figure, variable

WORDS = (
    "river stone market lantern harvest orbit violin meadow copper thunder glacier ember saddle "
    "quartz willow beacon canyon harbor falcon prism tundra velvet anchor cobalt"
).split()


def needs_text(test):
    """A test that tokenizes and scores text needs the text extra (tokenizers, sacrebleu)."""
    for marker in TEXT_MARKS:
        test = marker(test)
    return test


def corpus(folder, documents: int = 40, words: int = 120, seed: int = 0):
    """A folder of ``documents`` .txt files of Zipf-distributed words: a small corpus with a long tail."""
    rng = np.random.default_rng(seed)
    shares = 1 / np.arange(1, len(WORDS) + 1)
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(documents):
        text = " ".join(rng.choice(WORDS, size=words, p=shares / shares.sum()))
        (folder / f"doc_{d:03d}.txt").write_text(f"{text.capitalize()}.\n")
    return folder


SMALL = [
    "source.passage_tokens=32",
    "source.tokenizer=characters",
    "generator.prompt=8",
    "n_samples=60",
    "metrics.text.window=100",
]


def text_run(folder, *overrides: str):
    """Overrides of a tiny text run on the corpus in ``folder``: its two chains one after the other in
    this process unless ``overrides`` name ``workers`` (spawned workers are test_chains.py's subject)."""
    workers = [] if any(o.startswith("workers=") for o in overrides) else ["workers=1"]
    return [
        "+experiment=vocabulary_loss",
        "trainer=ngram",
        "source=text_files",
        f"source.path={folder}",
        *SMALL,
        "generations=3",
        "replicates=2",
        *workers,
        *overrides,
    ]


@needs_text
def test_one_tokenizer_per_corpus_and_the_test_documents_are_never_in_the_pool(tmp_path):
    folder = corpus(tmp_path / "corpus")
    a = TextFilesSource(path=str(folder), passage_tokens=16, vocab_size=300)
    b = TextFilesSource(path=str(folder), passage_tokens=16, vocab_size=300)
    np.testing.assert_array_equal(a.train.tokens, b.train.tokens)  # trained and cut the same way again
    assert a.tokenizer.vocab_size == 300 and a.pool_size == len(a.train) > 0 and len(a.test) > 0
    few = TextFilesSource(path=str(folder), passage_tokens=16, vocab_size=300, pool_size=50)
    real = few.load(np.random.default_rng(0))
    assert len(real.train) == 50 and len(real.draw(30, np.random.default_rng(1))) == 30
    pool = {p.tobytes() for p in real.train.tokens}  # the run's real data: drawing never leaves it
    assert {p.tobytes() for p in real.draw(30, np.random.default_rng(1)).tokens} <= pool
    train = {a.tokenizer.decode(p) for p in a.train.tokens}
    assert not train & {a.tokenizer.decode(p) for p in a.test.tokens}
    text = "river stone market"
    assert a.tokenizer.decode(a.tokenizer.encode(text)) == text


@requires_gensim
def test_wikipedia_from_gensim_s_wheel_has_a_long_tail_of_words():
    from collapse_sim.text.corpus import wikipedia_documents
    from collapse_sim.text.words import words

    documents = wikipedia_documents()
    counts = {}
    for d in documents:
        for w in words(d):
            counts[w] = counts.get(w, 0) + 1
    assert 90 <= len(documents) <= 110
    assert sum(counts.values()) > 300_000 and sum(c == 1 for c in counts.values()) > 10_000
    assert not any(mark in documents[0] for mark in ("[[", "{{", "'''", "=="))


def test_kneser_ney_distributions_sum_to_one_and_match_the_scores():
    rng = np.random.default_rng(1)
    passages = rng.integers(0, 30, size=(50, 12))
    model = NGramModel(passages, vocab_size=30, order=3, discount=0.75)
    history = rng.integers(0, 31, size=(20, 2))  # includes the padding id 30
    probs = model.next_probs(history)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    # The score of a passage is the product of the next-token distributions along it.
    passage = rng.integers(0, 30, size=(1, 6))
    padded = np.concatenate([[[30, 30]], passage], axis=1)
    expected = [np.log2(model.next_probs(padded[:, t : t + 2])[0, padded[0, t + 2]]) for t in range(6)]
    np.testing.assert_allclose(model.log2_probs(passage)[0], expected, rtol=1e-12)


def test_a_wide_beam_search_finds_the_likeliest_continuation():
    """With beams >= V^(length - 1) no continuation is ever dropped, so the search is exact."""
    rng = np.random.default_rng(2)
    model = NGramModel(rng.integers(0, 6, size=(40, 10)), vocab_size=6, order=2, discount=0.5)
    prompts = rng.integers(0, 6, size=(5, 3))
    found = model.generate(prompts, 3, rng, beams=36)
    narrow = model.generate(prompts, 3, rng, beams=2)
    every = np.array(np.meshgrid(*[np.arange(6)] * 3, indexing="ij")).reshape(3, -1).T  # all 216

    def log_prob(prompt, continuation):
        row = np.concatenate([prompt, continuation])
        return sum(np.log(model.next_probs(row[None, t - 1 : t])[0, row[t]]) for t in range(3, 6))

    for prompt, best, kept in zip(prompts, found, narrow, strict=True):
        scores = [log_prob(prompt, c) for c in every]
        np.testing.assert_array_equal(best, every[int(np.argmax(scores))])
        assert log_prob(prompt, kept) <= max(scores) + 1e-12


def test_the_repetition_penalty_makes_a_repeat_as_likely_as_theory_says():
    """Unigram p, penalty a: the second token repeats the first w.p. sum p_x p_x^a / (p_x^a + 1 - p_x)."""
    probs = np.array([0.5, 0.3, 0.15, 0.05])
    model = NGramModel(
        np.repeat(np.arange(4), (probs * 100).astype(int))[None], vocab_size=4, order=1, discount=0.0
    )
    rows, penalty = 40_000, 3.0
    drawn = model.generate(np.zeros((rows, 0), int), 2, np.random.default_rng(3), repetition_penalty=penalty)
    expected = float(np.sum(probs * probs**penalty / (probs**penalty + 1 - probs)))
    share = float(np.mean(drawn[:, 0] == drawn[:, 1]))
    assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / rows), (share, expected)
    assert expected < float(np.sum(probs**2)) - 0.1  # the penalty moved it well away from no penalty


def test_a_unigram_without_discount_is_the_categorical_refit():
    tokens = np.array([[0, 0, 1, 2, 2, 2]])
    probs = NGramModel(tokens, vocab_size=4, order=1, discount=0.0).next_probs(np.zeros((1, 0), int))[0]
    np.testing.assert_allclose(probs, [2 / 6, 1 / 6, 3 / 6, 0.0])


def test_unigram_refits_follow_wright_fisher_like_the_zipf_family():
    """E[Gini-Simpson] of the tokens falls by (1 - 1/N) a generation; 400 chains, |z| < 4."""
    shares = 1 / np.arange(1, 11)
    probs, n, generations, chains = shares / shares.sum(), 40, 6, 400
    rng = np.random.default_rng(2026)
    gini = np.empty((chains, generations))
    for c in range(chains):
        tokens = rng.choice(10, size=(1, n), p=probs)  # generation 0 trains on real tokens
        for g in range(generations):  # the Gini-Simpson index of each generation's training tokens
            share = np.bincount(tokens[0], minlength=10) / n
            gini[c, g] = 1 - np.sum(share**2)
            model = NGramModel(tokens, vocab_size=10, order=1, discount=0.0)
            tokens = model.generate(np.zeros((n, 0), int), 1, rng).reshape(1, n)
    expected = gini_simpson_expected(generations, n=n, probs=probs)
    z = (gini.mean(0) - expected) / (gini.std(0, ddof=1) / np.sqrt(chains))
    assert np.all(np.abs(z) < 4), z


TEXT_VARIABLES = {
    "test_bits_per_char",
    "reference_bits_per_char",
    "types",
    "hapax_share",
    "distinct_n",
    "repetition",
    "self_bleu",
    "unigram_js",
    "rare_word_recall",
    "year_recall",
    "name_recall",
    "fact_word_share",
    "gen0_bits_per_char",
    "gen0_histogram",
    "zipf_slope",
    "text_sample",
    "real_fraction",
}


@needs_text
@pytest.mark.parametrize("trainer", ["ngram", "tiny_gpt"])  # hf_causal_lm: test_pretrained_lm.py
def test_a_text_run_records_every_variable_for_every_chain(tmp_path, trainer):
    small = ["trainer.tokens=4000", "trainer.batch=4", "trainer.context=48"] if trainer != "ngram" else []
    ds = cs.run([*text_run(corpus(tmp_path / "corpus")), f"trainer={trainer}", *small])
    assert TEXT_VARIABLES <= set(ds.data_vars)
    assert ds.sizes["generation"] == 3 and ds.sizes["replicate"] == 2
    assert all("replicate" in ds[v].dims for v in TEXT_VARIABLES)
    assert np.isfinite(ds.test_bits_per_char).all() and (ds.test_bits_per_char > 0).all()
    assert float(ds.real_fraction[0, 0]) == 1.0 and float(ds.real_fraction[1, 0]) == 0.0
    assert ds.distinct_n.sizes["n"] == 4 and ds.repetition.sizes["n_repeated"] == 3
    assert ds.text_sample.sizes["passage"] == 3
    assert all(isinstance(t, str) and t for t in ds.text_sample.values[0, 0])
    page = write_run_page(ds, tmp_path, []).read_text()  # the report shows each generation's text
    for g in range(3):
        assert str(escape(ds.text_sample.values[g, 0, 0][:60])) in page


def test_a_control_character_in_a_sample_is_shown_as_its_escape(tmp_path):
    from collapse_sim.reporting.html import text_samples
    from collapse_sim.text.words import readable

    # A byte-level model can draw bytes its corpus never has (a debug run of shumailov stored these).
    assert readable("whereN\x0felfract\x00\x1b") == "whereN\\x0felfract\\x00\\x1b"
    assert readable("two lines\n\tand é, ü, 漢") == "two lines\n\tand é, ü, 漢"  # text stays as it is
    figure = Figure("passages", title="What each generation trained on", caption="Chain 0's text.")
    sample = variable(("passage",), ["whereN\x0felfract", "ok"], units="text", description="", figure=figure)
    ds = xr.Dataset({"text_sample": sample}).expand_dims(generation=[0], replicate=[0])
    shown = [p for g in text_samples(ds) for p in g["passages"]]  # a store written before the escape too
    assert shown == ["whereN\\x0felfract", "ok"]
    page = write_run_page(ds, tmp_path, []).read_text()
    assert not [c for c in page if unicodedata.category(c) == "Cc" and c not in "\n\t\r"]


@pytest.mark.parametrize(
    ("make", "overrides", "expected"),
    [
        (None, ["source.path=/no/such/corpus"], "source.path: /no/such/corpus does not exist"),
        ("empty", [], "holds no .txt file (searched recursively)"),
        ("latin1", [], "is not UTF-8 (byte offset 3"),
        ("binary", [], "is binary (a NUL byte at offset 3)"),
        (
            "tiny",
            [],
            "source.path: TMP/corpus holds one document: too few for a test set and a training pool",
        ),
        ("corpus", ["source.pool_size=100000"], "source.pool_size: asks for 100000 real passages but"),
        ("corpus", ["generator.beams=4", "generator.top_k=5"], "generator.beams: is 4: beam search keeps"),
        ("corpus", ["generator.beams=4", "generator.prompt=0"], "a beam search from nothing writes the same"),
        ("corpus", ["generator.length=20"], "generator.length: is 20 tokens but the source's passages"),
        ("family", [], "trainer=ngram needs text data, which source=shapes does not provide; options"),
    ],
)
@needs_text
def test_bad_text_input_stops_before_any_work(tmp_path, monkeypatch, capsys, make, overrides, expected):
    folder = tmp_path / "corpus"
    if make == "corpus":
        corpus(folder)
    elif make not in (None, "family"):
        folder.mkdir()
        content = {
            "latin1": "caf\xe9s na\xefve".encode("latin-1"),
            "binary": b"abc\x00def",
            "tiny": b"one doc",
        }
        if make != "empty":
            (folder / "a.txt").write_bytes(content[make])
    run_dir = tmp_path / "run"
    args = ["trainer=ngram"] if make == "family" else [*text_run(folder), *overrides]  # family: detection
    refused = refused_in_process([*args, f"hydra.run.dir={run_dir}"], monkeypatch, capsys)
    assert expected.replace("TMP", str(tmp_path)) in refused
    assert not run_dir.exists()


@needs_text
def test_a_vocabulary_size_the_corpus_cannot_fill_is_an_upper_bound_the_run_states_and_records(
    tmp_path, capsys
):
    folder = corpus(tmp_path / "corpus")
    source = TextFilesSource(path=str(folder), passage_tokens=16, vocab_size=5000)
    used = source.tokenizer.vocab_size
    assert 300 < used < 5000  # the corpus holds fewer merges than asked: the tokenizer is not refused
    said = f"source.vocab_size: {folder} fills {used} of the 5000 BPE tokens asked for; the run uses {used}"
    assert said in capsys.readouterr().out
    bpe = ["source.tokenizer=bpe", "source.vocab_size=5000", "source.passage_tokens=16", "generations=1"]
    ds = cs.run([*text_run(folder), *bpe])
    assert ds.vocab_size.values.tolist() == [[float(used)] * 2] and ds.vocab_size.attrs["units"] == "tokens"


@needs_text
@pytest.mark.slow
def test_a_killed_text_run_resumes_to_the_uninterrupted_values(tmp_path, app_cli):
    from conftest import assert_same_results, kill_after

    folder = corpus(tmp_path / "corpus", documents=60)
    args = text_run(folder, "generations=8", "workers=1", "plots=false")
    done = kill_after(args, tmp_path / "killed", 2)
    assert 2 <= done < 8
    resumed = app_cli(*args, f"hydra.run.dir={tmp_path / 'killed'}")
    assert resumed.returncode == 0 and "at generation" in resumed.stdout, resumed.stderr
    whole = app_cli(*args, f"hydra.run.dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr
    assert_same_results(cs.open_run(tmp_path / "killed"), cs.open_run(tmp_path / "whole"))


@needs_text
def test_a_script_without_a_main_guard_stops_at_once_and_names_the_guard(tmp_path):
    """Each spawned worker imports the script again and dies there; the run must say so, not hang."""
    import subprocess
    import sys

    from conftest import ROOT, user_env

    folder = corpus(tmp_path / "corpus")
    script = tmp_path / "unguarded.py"
    script.write_text(f"import collapse_sim as cs\ncs.run({text_run(folder, 'workers=2')!r})\n")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120, env=user_env()
    )
    assert done.returncode != 0
    assert "before it started its chain" in done.stderr and 'if __name__ == "__main__":' in done.stderr
