"""trainer.model: a pretrained transformers model, read with from_pretrained, on its own tokenizer."""

from __future__ import annotations

import json

import pytest
import xarray as xr
from conftest import one_paragraph
from test_text import TEXT_VARIABLES, corpus, needs_text, text_run

import collapse_sim as cs

END = "<|endoftext|>"


def pretrained(folder, documents: list[str], *, positions: int = 64):
    """A two-layer GPT-2 and its own byte-level BPE tokenizer, written by ``save_pretrained`` as a user's
    pretrained model is: the folder ``from_pretrained`` reads."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    learn = trainers.BpeTrainer(
        vocab_size=300, special_tokens=[END], initial_alphabet=alphabet, show_progress=False
    )
    tokenizer.train_from_iterator(documents, learn)
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=END).save_pretrained(folder)
    end = tokenizer.token_to_id(END)
    config = GPT2Config(
        vocab_size=tokenizer.get_vocab_size(), n_positions=positions, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=end, eos_token_id=end,
    )  # fmt: skip
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def _documents(folder) -> list[str]:
    return [p.read_text() for p in sorted(folder.rglob("*.txt"))]


MODEL = ["trainer=hf_causal_lm", "trainer.context=48", "trainer.epochs=1", "trainer.batch=4"]


@needs_text
def test_a_pretrained_model_on_its_own_tokenizer_runs_from_its_weights_each_generation(tmp_path):
    texts = corpus(tmp_path / "corpus")
    model = pretrained(tmp_path / "model", _documents(texts))
    ds = cs.run([*text_run(texts), *MODEL, f"trainer.model={model}", f"source.tokenizer={model}"])
    assert TEXT_VARIABLES <= set(ds.data_vars)  # every text metric, as for tiny_gpt and ngram
    assert ds.sizes["generation"] == 3 and ds.sizes["replicate"] == 2
    saved = json.loads((model / "config.json").read_text())
    assert saved["n_layer"] == 2  # the user's folder is read, never written


@needs_text
@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["trainer.model=someone/not-cached"], "This run reads local files only"),
        (["trainer.model=EMPTY"], "holds no transformers model that can be read"),
        (["trainer.model=MODEL", "source.tokenizer=characters"], "model's tokenizer (it gives"),
        (
            ["trainer.model=MODEL", "source.tokenizer=MODEL", "trainer.context=128"],
            "longer than the 64 positions",
        ),
        (["trainer.model=HUGE", "source.tokenizer=MODEL"], "memory"),
        (["trainer.model=MODEL", "trainer.base=pretrain"], "choose one"),
    ],
)
def test_a_pretrained_model_that_cannot_serve_is_one_paragraph_before_any_work(
    tmp_path, app_cli, overrides, says
):
    texts = corpus(tmp_path / "corpus")
    model = pretrained(tmp_path / "model", _documents(texts))
    (tmp_path / "empty").mkdir()
    huge = tmp_path / "huge"  # a config alone: 48 layers 6400 wide, some 24 billion parameters
    huge.mkdir()
    config = json.loads((model / "config.json").read_text()) | {"n_layer": 48, "n_embd": 6400, "n_head": 50}
    (huge / "config.json").write_text(json.dumps(config))
    named = {"EMPTY": tmp_path / "empty", "MODEL": model, "HUGE": huge}
    overrides = [f"{o.split('=')[0]}={named.get(o.split('=')[1], o.split('=')[1])}" for o in overrides]
    run_dir = tmp_path / "run"
    message = one_paragraph(app_cli(*text_run(texts), *MODEL, *overrides, f"hydra.run.dir={run_dir}"))
    assert says in message, message
    assert not (run_dir / "results.zarr").exists()


def hub_cache(folder, model, model_id: str = "someone/tiny-gpt2"):
    """``model``'s files laid out as the Hugging Face cache keeps a downloaded snapshot of ``model_id``."""
    import shutil

    repo = folder / f"models--{model_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123456789abcdef")
    shutil.copytree(model, repo / "snapshots" / "0123456789abcdef")
    return folder


@needs_text
def test_a_tokenizer_named_by_hub_id_is_read_from_the_cache_without_the_network(
    tmp_path, monkeypatch, app_cli
):
    """``source.tokenizer=<hub id>`` reads the cached snapshot (as ``trainer.model`` reads a cached model):
    the same run as the folder's; an id not in the cache is one paragraph at once, naming the download."""
    import huggingface_hub

    texts = corpus(tmp_path / "corpus")
    model = pretrained(tmp_path / "model", _documents(texts))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub_cache(tmp_path / "cache", model)))
    args = [*text_run(texts), *MODEL, f"trainer.model={model}", "generations=1", "replicates=1"]
    by_id = cs.run([*args, "source.tokenizer=someone/tiny-gpt2"])
    by_folder = cs.run([*args, f"source.tokenizer={model}"])
    xr.testing.assert_equal(
        by_id.drop_vars("wall_time_s"), by_folder.drop_vars("wall_time_s")
    )  # not the config
    refused = app_cli(*args, "source.tokenizer=someone/not-cached", f"hydra.run.dir={tmp_path / 'run'}")
    message = one_paragraph(refused)
    assert "source.tokenizer: is 'someone/not-cached': neither bpe, characters, a folder" in message
    assert "hf download someone/not-cached tokenizer.json tokenizer_config.json" in message
