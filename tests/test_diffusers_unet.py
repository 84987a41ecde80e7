"""trainer=diffusers_unet: a diffusers UNet2DModel in the image loop, built from sizes or read back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_same_results, kill_after, refused_in_process, requires
from test_images import IMAGE_RUN

import collapse_sim as cs
from collapse_sim.components import RunContext
from collapse_sim.sources.images import DigitsSource

pytestmark = requires("diffusers", "images")
DIFFUSERS_RUN = [*IMAGE_RUN, "trainer=diffusers_unet"]


def fitted(folder, *, sampler: str = "ddpm", iterations: int = 20, **settings):
    """A diffusers U-Net trained ``iterations`` steps on 200 digits (its chain folder ``folder``), and the
    run's real data."""
    from collapse_sim.trainers.diffusers_unet import DiffusersUNetTrainer

    real = DigitsSource(pool_size=200).load(np.random.default_rng(0))
    trainer = DiffusersUNetTrainer(iterations=iterations, sampler=sampler, device="cpu", **settings)
    trainer.setup(RunContext(folder=folder, chain=0, real=real))
    return trainer.fit(real.train, rng=np.random.default_rng(5), generation=0), real, trainer


def test_a_mad_run_with_a_diffusers_unet_resumes_after_sigkill_to_the_uninterrupted_values(tmp_path, app_cli):
    args = [*DIFFUSERS_RUN, "replicates=1", "generations=3", "plots=false", "store_flush_s=0"]
    whole = tmp_path / "whole"
    ran = app_cli(*args, f"hydra.run.dir={whole}")
    assert ran.returncode == 0, ran.stderr
    # Each chain's latest model is a pipeline folder that diffusers reads back.
    saved = json.loads((whole / "chain_00/diffusers_unet/unet/config.json").read_text())
    assert saved["_class_name"] == "UNet2DModel" and saved["num_class_embeds"] == 11
    assert (whole / "chain_00/diffusers_unet/scheduler/scheduler_config.json").is_file()
    killed = tmp_path / "killed"
    assert kill_after(args, killed, 1) >= 1
    resumed = app_cli(*args, f"hydra.run.dir={killed}")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout
    assert_same_results(cs.open_run(whole), cs.open_run(killed))


def test_a_saved_model_is_read_back_and_each_generation_fine_tunes_it(tmp_path):
    import torch

    model, real, _ = fitted(tmp_path / "first")
    from collapse_sim.trainers.diffusers_unet import DiffusersUNetTrainer

    again = DiffusersUNetTrainer(model=str(tmp_path / "first" / "diffusers_unet"), iterations=1, device="cpu")
    again.setup(RunContext(folder=None, chain=0, real=real))
    assert all(torch.equal(again.base_state[k], v) for k, v in model.state.items())
    tuned = again.fit(real.train, rng=np.random.default_rng(6), generation=1)
    # One AdamW step of lr 0.002 from the saved weights moves each by about the learning rate at most
    # (a fresh network would differ from them by its initialisation, orders of magnitude more).
    moved = [float((tuned.state[k] - v).abs().max()) for k, v in model.state.items() if v.is_floating_point()]
    assert 0 < max(moved) < 0.0025
    assert tuned.scheduler_config["num_train_timesteps"] == 1000


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_both_samplers_take_the_respaced_steps_and_follow_the_seed(tmp_path, sampler):
    model, _, _ = fitted(tmp_path, sampler=sampler)
    calls = []
    network = model.network()
    network.register_forward_hook(lambda module, inputs, output: calls.append(len(inputs[0])))
    images, labels = model.sample(30, np.random.default_rng(1), steps=7)
    assert calls == [30] * 7  # seven network evaluations of the 30 images
    again, _ = model.sample(30, np.random.default_rng(1), steps=7)
    assert np.array_equal(images, again) and images.shape == (30, 8, 8)
    assert 0 <= images.min() and images.max() <= 1 and np.isfinite(images).all()
    calls.clear()
    guided, same_labels = model.sample(30, np.random.default_rng(1), steps=7, guidance=2.0)
    assert calls == [60] * 7  # with and without the class, side by side
    assert np.array_equal(labels, same_labels) and not np.allclose(images, guided)


def _unet_folder(folder, **changes) -> str:
    """A U-Net of trainer.channels' config with ``changes``, written by ``save_pretrained``."""
    from collapse_sim.models.diffusers_unet import build_unet
    from collapse_sim.trainers.diffusers_unet import DiffusersUNetTrainer

    config = {**DiffusersUNetTrainer().unet_config(10, (8, 8)), **changes}
    build_unet(config).save_pretrained(folder)
    return str(folder)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("EMPTY", "holds no diffusers U-Net that can be read"),
        ("MISSING", "is not a folder (a U-Net that save_pretrained wrote)"),
        ("RGB", "takes 3 channels in, 3 out; the source's images have one (grey)"),
        ("CLASSES", "has num_class_embeds=4 (class_embed_type=None); the source has 10 classes"),
        ("google/ddpm-cifar10-32", "This run reads local files only (HF_HUB_OFFLINE=1)"),
    ],
)
def test_a_model_that_cannot_serve_is_one_paragraph_before_any_work(
    tmp_path, monkeypatch, capsys, model, expected
):
    import time

    folders = {
        "EMPTY": tmp_path / "empty",
        "MISSING": tmp_path / "missing",
        "RGB": tmp_path / "rgb",
        "CLASSES": tmp_path / "classes",
    }
    folders["EMPTY"].mkdir()
    if model == "RGB":
        _unet_folder(folders["RGB"], in_channels=3, out_channels=3)
    if model == "CLASSES":
        _unet_folder(folders["CLASSES"], num_class_embeds=4)
    named = str(folders.get(model, model))
    run_dir = tmp_path / "run"
    began = time.monotonic()
    refused = refused_in_process(
        [*DIFFUSERS_RUN, f"trainer.model={named}", f"hydra.run.dir={run_dir}"], monkeypatch, capsys
    )
    assert expected in refused and "trainer.model" in refused
    assert time.monotonic() - began < 15  # a hub id offline fails at once, without retries
    assert not run_dir.exists()


def test_sides_that_the_u_net_cannot_halve_are_refused_naming_the_levels(tmp_path, monkeypatch, capsys):
    refused = refused_in_process(
        [*DIFFUSERS_RUN, "trainer.channels=[16,16,16,16,16]", f"hydra.run.dir={tmp_path / 'run'}"],
        monkeypatch,
        capsys,
    )
    assert "halves an image 4 times, so its sides must be multiples of 16; the source's images are 8x8" in (
        refused
    )


def _ddpm_network_as_diffusers():
    """trainer=ddpm's U-Net (random weights), and the same network called as a diffusers U-Net is."""
    from types import SimpleNamespace

    import torch

    from collapse_sim.models.ddpm import DenoisingUNet

    torch.manual_seed(0)
    ours = DenoisingUNet(10, 16).eval()
    return ours, lambda x, t, class_labels: SimpleNamespace(sample=ours(x, t, class_labels))


@pytest.mark.parametrize(("steps", "guidance"), [(20, 0.0), (50, 2.0)])
def test_given_one_network_diffusers_ddpm_scheduler_draws_what_ddpm_s_sampler_draws(steps, guidance):
    """The two trainers' sampling is one procedure: the same respaced steps, posterior variance, guidance
    and noise draws (diffusers' x0 form of the step against ddpm's noise form: float rounding apart)."""
    from collapse_sim.models.ddpm import DiffusionModel
    from collapse_sim.models.diffusers_unet import DiffusersImageModel
    from collapse_sim.trainers.diffusers_unet import DiffusersUNetTrainer

    ours, as_diffusers = _ddpm_network_as_diffusers()
    share = np.linspace(1, 2, 10) / np.linspace(1, 2, 10).sum()
    ddpm = DiffusionModel(
        ours.state_dict(), n_classes=10, width=16, timesteps=1000, size=(8, 8), class_share=share
    )
    trainer = DiffusersUNetTrainer()
    diffusers = DiffusersImageModel(
        trainer.unet_config(10, (8, 8)), {}, trainer.scheduler_config(), n_classes=10, size=(8, 8),
        class_share=share,
    )  # fmt: skip
    diffusers._network = as_diffusers
    a, a_labels = ddpm.sample(64, np.random.default_rng(3), steps=steps, guidance=guidance)
    b, b_labels = diffusers.sample(64, np.random.default_rng(3), steps=steps, guidance=guidance)
    assert np.array_equal(a_labels, b_labels)
    assert np.abs(a - b).max() < 1e-4 and a.std() > 0.05  # images, not a blank


def test_given_one_network_the_training_loss_is_ddpm_s():
    """The same draws (steps, noise, dropped labels) in the same order, on the same schedule."""
    import torch

    from collapse_sim.models import ddpm
    from collapse_sim.models.diffusers_unet import denoising_loss, quiet_diffusers
    from collapse_sim.trainers.diffusers_unet import DiffusersUNetTrainer

    ours, as_diffusers = _ddpm_network_as_diffusers()
    real = DigitsSource(pool_size=200).load(np.random.default_rng(0))
    images, labels = ddpm.to_network(real.train.images[:64]), torch.as_tensor(real.train.labels[:64])
    schedule = quiet_diffusers().DDPMScheduler.from_config(DiffusersUNetTrainer().scheduler_config())
    losses = []
    for loss in (
        lambda: ddpm.denoising_loss(ours, images, labels, ddpm.noise_schedule(1000)),
        lambda: denoising_loss(as_diffusers, schedule, images, labels, 10),
    ):
        torch.manual_seed(7)
        losses.append(float(loss().detach()))
    assert losses[0] == pytest.approx(losses[1], rel=1e-5) and losses[0] > 0.1
