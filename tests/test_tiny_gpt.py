"""The text family's decoder: sampling with and without its cache, deterministic training on a CPU."""

from __future__ import annotations

import numpy as np
import pytest
from test_text import corpus, needs_text

from collapse_sim.sources.text import TextFilesSource


def test_the_decoder_samples_the_same_tokens_with_and_without_its_cache():
    import torch

    from collapse_sim.models.tiny_gpt import GPT, GPTShape, TinyGPTModel

    torch.manual_seed(0)
    shape = GPTShape(vocab_size=50, context=40, layers=2, heads=2, width=32)
    model = TinyGPTModel(shape, GPT(shape).state_dict(), end=0, device="cpu")
    prompts = np.random.default_rng(0).integers(0, 50, size=(6, 5))
    cached = model.generate(prompts, 20, np.random.default_rng(1))
    recomputed = model.generate(prompts, 20, np.random.default_rng(1), cache=False)
    np.testing.assert_array_equal(cached, recomputed)
    # A beam search reorders its rows each step; the cache must follow them.
    beams = {"beams": 3, "repetition_penalty": 1.5}
    searched = model.generate(prompts, 12, np.random.default_rng(1), **beams)
    np.testing.assert_array_equal(searched, model.generate(prompts, 12, None, cache=False, **beams))
    # Scores agree with the network's own next-token distributions: the first token follows the end token.
    scores = model.log2_probs(cached)
    logits, _ = model.network()(torch.zeros((6, 1), dtype=torch.long))
    first = torch.log_softmax(logits[:, -1], -1).detach().numpy()[np.arange(6), cached[:, 0]] / np.log(2)
    np.testing.assert_allclose(scores[:, 0], first, rtol=1e-5)


@needs_text
def test_the_decoder_trains_to_the_same_weights_for_a_seed(tmp_path):
    from collapse_sim.components import RunContext
    from collapse_sim.trainers.tiny_gpt import TinyGPTTrainer

    source = TextFilesSource(
        path=str(corpus(tmp_path / "corpus")), passage_tokens=16, tokenizer="characters", vocab_size=300
    )
    real = source.load(np.random.default_rng(0))
    weights = []
    for _ in range(2):
        trainer = TinyGPTTrainer(layers=1, heads=2, width=16, context=32, tokens=3000, batch=4, device="cpu")
        trainer.setup(RunContext(tmp_path, 0, real=real))
        model = trainer.fit(real.train, rng=np.random.default_rng(5), generation=0)
        weights.append(model.state)
    assert weights[0].keys() == weights[1].keys()
    assert all(torch_equal(weights[0][k], weights[1][k]) for k in weights[0])
    before = -model.log2_probs(real.test.tokens).mean()
    assert before < np.log2(source.tokenizer.vocab_size)  # it learnt something: below the uniform code


@needs_text
@pytest.mark.cuda
def test_the_decoder_trains_and_samples_on_cuda(tmp_path):
    """bf16 autocast, data resident on the GPU: it learns, and its cache samples what recomputing does."""
    from collapse_sim.components import RunContext
    from collapse_sim.trainers.tiny_gpt import TinyGPTTrainer

    source = TextFilesSource(
        path=str(corpus(tmp_path / "corpus")), passage_tokens=16, tokenizer="characters", vocab_size=300
    )
    real = source.load(np.random.default_rng(0))
    trainer = TinyGPTTrainer(layers=2, heads=2, width=32, context=32, tokens=20000, batch=8, device="cuda")
    trainer.setup(RunContext(tmp_path, 0, real=real))
    model = trainer.fit(real.train, rng=np.random.default_rng(5), generation=0)
    assert model.device.startswith("cuda") and next(iter(model.state.values())).device.type == "cpu"
    assert -model.log2_probs(real.test.tokens).mean() < np.log2(source.tokenizer.vocab_size) - 1
    prompts = real.train.tokens[:8, :4]
    cached = model.generate(prompts, 12, np.random.default_rng(1))
    np.testing.assert_array_equal(cached, model.generate(prompts, 12, np.random.default_rng(1), cache=False))


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))
