"""trainer=hf_causal_lm: a transformers causal language model in the text loop, scored and sampled as
tiny_gpt is, resumable, with LoRA; and its bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_same_results, build_job, kill_after, one_paragraph
from test_text import TEXT_VARIABLES, corpus, needs_text, text_run

import collapse_sim as cs
from collapse_sim.api import stack
from collapse_sim.checkpoints import Checkpoints
from collapse_sim.components import RunContext
from collapse_sim.loop import simulate
from collapse_sim.models.hf_causal_lm import HFCausalLMModel, build_network
from collapse_sim.text.data import TextSet
from collapse_sim.trainers.hf_causal_lm import ARCHITECTURES, HFCausalLMTrainer

SMALL = ["trainer=hf_causal_lm", "trainer.tokens=4000", "trainer.batch=4", "trainer.context=48"]


def tiny(architecture: str = "gpt2", **settings) -> HFCausalLMTrainer:
    """A trainer of a two-layer network over a 50-token vocabulary (end token 0), set up by hand."""
    trainer = HFCausalLMTrainer(
        architecture=architecture, layers=2, heads=2, width=32, context=40, **settings
    )
    trainer.vocab_size, trainer.end = 50, 0
    return trainer


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_each_architecture_samples_alike_with_and_without_its_cache_and_scores_what_it_samples(architecture):
    trainer = tiny(architecture, device="cpu")
    config, rng = trainer.config(), np.random.default_rng(3)
    model = HFCausalLMModel(config, build_network(config).state_dict(), end=0, device="cpu")
    prompts = rng.integers(1, 50, size=(3, 5))
    for options in ({}, {"beams": 3}, {"top_k": 5, "repetition_penalty": 1.3}):
        cached = model.generate(prompts, 8, np.random.default_rng(1), **options)
        recomputed = model.generate(prompts, 8, np.random.default_rng(1), cache=False, **options)
        np.testing.assert_array_equal(cached, recomputed)
    # Scoring reads a passage after the end token, as decoding does from an empty prompt: the same numbers.
    passages = rng.integers(1, 50, size=(2, 6))
    from collapse_sim.models.hf_causal_lm import _CachedDecoder

    decoder, stepped = _CachedDecoder(model.network(), passages[:, :0], 0, "cpu", True), []
    for position in range(passages.shape[1]):
        stepped.append(np.log2(decoder.probs()[np.arange(2), passages[:, position]]))
        decoder.advance(None, passages[:, position])
    np.testing.assert_allclose(model.log2_probs(passages), np.stack(stepped, axis=1), atol=1e-4)


def test_lora_trains_only_the_adapters_and_records_their_share():
    trainer = tiny(lora={"r": 2})
    start = build_network(trainer.config()).state_dict()
    data = TextSet.real(np.random.default_rng(0).integers(1, 50, size=(24, 16)))
    state, share = trainer._train_network(data, start, 4, np.random.default_rng(1), None)
    assert 0 < share < 0.1
    assert set(state) == set(start)  # merged: the architecture's own weights, no adapter left
    for name, weights in start.items():
        changed = not np.array_equal(weights.numpy(), state[name].numpy())
        assert changed == name.endswith("attn.c_attn.weight"), name  # only where adapters sat


@needs_text
def test_a_resumed_run_with_lora_equals_the_uninterrupted_one_and_records_what_it_trained(tmp_path):
    lora = ["+trainer.lora.r=2"]
    overrides = [*text_run(corpus(tmp_path / "corpus")), *SMALL, *lora, "generations=3", "replicates=1"]
    runs = []
    for name, crash in (("whole", None), ("killed", 1)):
        folder = tmp_path / name
        context = RunContext(folder, 0, run_dir=folder)
        checkpoints, kept = Checkpoints(folder, history_window=None), []
        try:
            for done in simulate(build_job(overrides).sim, context, checkpoints):
                if done.generation == crash:  # killed before generation 1 was recorded
                    raise KeyboardInterrupt
                kept.append(done)
        except KeyboardInterrupt:
            kept += simulate(build_job(overrides).sim, context, checkpoints, start=crash)
        runs.append(stack(kept, vectorised=False))
    assert TEXT_VARIABLES <= set(runs[0].data_vars)  # vocabulary_loss with a config-built model: every metric
    for name in ("test_bits_per_char", "types", "self_bleu", "gen0_bits_per_char"):
        np.testing.assert_array_equal(runs[0][name].values, runs[1][name].values, err_msg=name)
    saved = tmp_path / "killed" / "hf_model"
    assert json.loads((saved / "config.json").read_text())["model_type"] == "gpt2"
    assert (saved / "model.safetensors").is_file()
    trained = json.loads((saved / "training.json").read_text())
    assert trained["generation"] == 2 and 0 < trained["trainable_share"] < 0.1 and trained["lora"]["r"] == 2


@needs_text
@pytest.mark.slow
def test_shumailov_with_a_transformers_model_stores_every_text_metric_and_a_sigkill_resumes_to_it(
    tmp_path, app_cli
):
    """The experiment's own protocol (a base pretrained once, beams, fine-tuning from it) at debug size on a
    small corpus; a run SIGKILLed after a complete generation and resumed equals the uninterrupted one."""
    args = [
        *("+experiment=shumailov", "+debug=default", "trainer=hf_causal_lm", "source=text_files"),
        f"source.path={corpus(tmp_path / 'corpus')}",
        *("source.passage_tokens=32", "source.tokenizer=characters", "generator.prompt=8"),
        *("metrics.text.window=100", "trainer.context=48", "trainer.batch=4"),
        *("trainer.pretrain_tokens=2000", "trainer.epochs=1"),  # the protocol's steps, not its sizes
        *("n_samples=40", "replicates=1", "generations=2", "plots=false", "store_flush_s=0"),
    ]
    whole = cs.run(args)
    assert TEXT_VARIABLES <= set(whole.data_vars) and whole.sizes["generation"] == 2
    killed = tmp_path / "killed"
    assert kill_after(args, killed, 1) == 1
    resumed = app_cli(*args, f"hydra.run.dir={killed}")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout
    assert_same_results(whole, cs.open_run(killed).drop_vars("completed"))  # the store marks its generations


@needs_text
@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["trainer.architecture=bert"], "trainer.architecture: must be one of gpt2, opt, gpt_neox, llama"),
        (["+trainer.lora.target_modules=[nope]"], "names nope, which a gpt2 network does not have"),
        (["trainer.base=EMPTY"], "neither scratch, pretrain nor a base"),
        (["trainer.base=FOREIGN"], "was made with another tokenizer"),
        (["trainer.base=BROKEN"], "holds no transformers model"),
        (["trainer.dtype=bfloat16", "trainer.device=cpu"], "trains here only on CUDA"),
    ],
)
def test_bad_settings_are_one_paragraph_before_any_work(tmp_path, app_cli, overrides, says):
    empty, foreign, broken = (tmp_path / name for name in ("empty", "foreign", "broken"))
    empty.mkdir()
    trainer = tiny()
    build_network(trainer.config()).save_pretrained(foreign)  # no record of the run's tokenizer
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    named = {"EMPTY": empty, "FOREIGN": foreign, "BROKEN": broken}
    overrides = [
        o.split("=")[0] + f"={named[o.split('=')[1]]}" if o.split("=")[1] in named else o for o in overrides
    ]
    run_dir = tmp_path / "run"
    message = one_paragraph(
        app_cli(*text_run(corpus(tmp_path / "corpus")), *SMALL, *overrides, f"hydra.run.dir={run_dir}")
    )
    assert says in message, message
    assert not (run_dir / "results.zarr").exists()


def test_nothing_imports_transformers_unless_the_trainer_is_chosen():
    import subprocess
    import sys

    from conftest import GAUSSIAN, ROOT, user_env

    code = (
        "import sys, collapse_sim as cs; cs.run(" + repr([*GAUSSIAN, "generations=1", "plots=false"]) + ");"
        "print(sorted(m for m in ('transformers', 'peft') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=user_env()
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


@needs_text
def test_a_gpt2_of_tiny_gpt_s_size_learns_the_same_bits_per_character(tmp_path):
    """At matched size (4 layers, 4 heads, width 128, the run's tokenizer) and budget, generation 0's test
    bits per character agree within the chains' spread: a cross-check of both implementations."""
    folder, scores = corpus(tmp_path / "corpus"), {}
    for trainer in ("tiny_gpt", "hf_causal_lm"):
        ds = cs.run([*text_run(folder), *SMALL[1:], f"trainer={trainer}", "generations=1", "replicates=4"])
        scores[trainer] = ds.test_bits_per_char.isel(generation=0).values
    ours, theirs = scores["tiny_gpt"], scores["hf_causal_lm"]
    standard_error = np.sqrt(ours.var(ddof=1) / 4 + theirs.var(ddof=1) / 4)
    assert abs(ours.mean() - theirs.mean()) < 3 * standard_error, scores
    assert 2.5 < ours.mean() < 4.5  # both learned the characters' distribution (uniform: log2 of ~40)
