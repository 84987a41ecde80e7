"""A pretrained base for tiny_gpt: a split of its own, pretrained once per run, every generation fine-tuned
from it, and a base checkpoint that does not fit the run refused before any work."""

from __future__ import annotations

import re

import numpy as np
from conftest import TEXT_MARKS, refused_in_process
from test_text import corpus, text_run
from test_tiny_gpt import torch_equal

from collapse_sim.components import RunContext
from collapse_sim.sources.text import TextFilesSource
from collapse_sim.text.data import TextSet
from collapse_sim.trainers.tiny_gpt import BASE_FILE, TinyGPTTrainer

pytestmark = list(TEXT_MARKS)
TINY = {"layers": 1, "heads": 2, "width": 16, "context": 32, "batch": 4, "device": "cpu"}


def _source(tmp_path, **settings):
    return TextFilesSource(
        path=str(corpus(tmp_path / "corpus", documents=60)),
        passage_tokens=16,
        tokenizer="characters",
        vocab_size=300,
        **settings,
    )


def test_the_pretraining_split_is_apart_from_the_pool_and_the_test_set_and_changes_no_tokenizer(tmp_path):
    folder = tmp_path / "labelled"  # each document names itself: d007 d007 ...
    folder.mkdir()
    for d in range(50):
        (folder / f"{d:03d}.txt").write_text(" ".join([f"d{d:03d}"] * 12))

    def split(share: float):
        source = TextFilesSource(
            path=str(folder), passage_tokens=16, tokenizer="characters", vocab_size=300, pretrain_share=share
        )
        parts = (source.train, source.test, source.truth.pretrain)
        named = [
            set()
            if p is None
            else {int(n) for t in p.tokens for n in re.findall(r"d(\d{3})", source.tokenizer.decode(t))}
            for p in parts
        ]
        return source, named

    plain, (plain_pool, plain_test, _) = split(0.0)
    source, (pool, test, pretrain) = split(0.5)
    assert plain.truth.pretrain is None and source.tokenizer.fingerprint == plain.tokenizer.fingerprint
    assert test == plain_test and not (pool & pretrain) and not (test & (pool | pretrain))
    assert pool | pretrain == plain_pool and abs(len(pretrain) - len(pool)) <= 1  # 45 documents, halved


def _pretrained(tmp_path, real, **settings) -> TinyGPTTrainer:
    trainer = TinyGPTTrainer(**TINY, base="pretrain", pretrain_tokens=2000, epochs=1, **settings)
    trainer.setup(RunContext(tmp_path / "chain_00", 0, real=real, run_dir=tmp_path / "run"))
    return trainer


def test_a_run_pretrains_once_and_every_chain_and_a_resume_reads_it(tmp_path, monkeypatch):
    real = _source(tmp_path, pretrain_share=0.5).load(np.random.default_rng(0))
    first = _pretrained(tmp_path, real)
    saved = tmp_path / "run" / BASE_FILE
    written = saved.stat().st_mtime_ns

    def no_training(*args, **kwargs):
        raise AssertionError("trained a second base")

    monkeypatch.setattr(TinyGPTTrainer, "_train", no_training)
    again = _pretrained(tmp_path, real)  # another chain, or the same run resumed
    assert saved.stat().st_mtime_ns == written
    assert all(torch_equal(first.base_state[k], again.base_state[k]) for k in first.base_state)


def test_every_generation_starts_from_the_base_whatever_came_before(tmp_path):
    real = _source(tmp_path, pretrain_share=0.5).load(np.random.default_rng(0))
    trainer = _pretrained(tmp_path, real, lr=1e-9, weight_decay=0.0)
    data = real.train.take(np.arange(8))
    # A step of size ~1e-9 leaves the base's weights: the fine-tune started from them.
    tuned = trainer.fit(data, rng=np.random.default_rng(1), generation=3)
    for name, value in trainer.base_state.items():
        np.testing.assert_allclose(tuned.state[name].numpy(), value.numpy(), atol=1e-6, err_msg=name)
    # The previous generation's network is not where it starts: the same fit after another is equal.
    previous = trainer.fit(real.train.take(np.arange(8, 16)), rng=np.random.default_rng(2), generation=2)
    again = trainer.fit(data, init=previous, rng=np.random.default_rng(1), generation=3)
    assert all(torch_equal(again.state[k], tuned.state[k]) for k in tuned.state)
    assert trainer.steps(TextSet.concat([data, data])) == 4  # epochs=1 pass over 16 passages, batch 4


def test_a_base_that_does_not_fit_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    real = _source(tmp_path, pretrain_share=0.5).load(np.random.default_rng(0))
    _pretrained(tmp_path, real)
    base = tmp_path / "run" / BASE_FILE
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    folder = tmp_path / "corpus"
    common = [
        *text_run(folder),
        "trainer=tiny_gpt",
        "trainer.layers=1",
        "trainer.heads=2",
        "trainer.width=16",
    ]
    common += ["trainer.context=48", "generator.prompt=8"]
    cases = [
        ([f"trainer.base={tmp_path / 'nowhere.pt'}"], "trainer.base: is '" + str(tmp_path / "nowhere.pt")),
        ([f"trainer.base={junk}"], f"trainer.base: {junk} is not a tiny_gpt base checkpoint"),
        ([f"trainer.base={base}", "source.tokenizer=bpe"], "was made with another tokenizer"),
        ([f"trainer.base={base}", "trainer.width=32"], "holds a network of vocabulary"),
        (["trainer.base=pretrain"], "trainer.base: is pretrain but the source keeps no pretraining split"),
        (["trainer.base=pretrain", "source.pretrain_share=0.5", "warm_start=true"], "choose one"),
        (["source.pretrain_share=1.0"], "source.pretrain_share: must be in [0, 1)"),
    ]
    for overrides, message in cases:
        refused = refused_in_process(
            [*common, *overrides, f"hydra.run.dir={tmp_path / 'r'}"], monkeypatch, capsys
        )
        assert message in refused, (overrides, refused)
    assert not (tmp_path / "r").exists()
