"""Sprite generators (learned, identity) and image metrics: crops, masks, exact labels, artefacts seen."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
from conftest import ROOT, TINY_DETECTION, user_env
from scipy import ndimage

from collapse_sim.components import RunContext
from collapse_sim.generators.sprites import SpritePasteGenerator, SpriteVAEGenerator
from collapse_sim.metrics.images import ImageMetrics, sharpness
from collapse_sim.models.sprite_vae import train_sprite_vae
from collapse_sim.scenes.sprites import SOLID, crop_alpha, object_crops, paste
from collapse_sim.sources.shapes import ShapesSource


@pytest.fixture(scope="module")
def real():
    return ShapesSource(pool_size=120, test_size=120).load(np.random.default_rng(0))


def test_the_mask_is_read_from_the_crop():
    crop = np.full((16, 16, 3), 100, dtype=np.uint8)
    crop[4:12, 4:12] = (230, 40, 40)
    alpha = crop_alpha(crop)
    assert alpha[4:12, 4:12].min() == 1.0 and alpha[:4].max() == 0.0 and alpha[:, 12:].max() == 0.0


def test_every_label_becomes_one_crop(real):
    crops, classes = object_crops(real.train, 16)
    objects = real.train.objects()
    assert crops.shape == (len(objects), 16, 16, 4) and 0 <= crops.min() and crops.max() <= 1
    np.testing.assert_array_equal(classes, objects[:, 0].astype(int))


def test_a_pasted_label_is_the_sprites_solid_extent():
    sprite = np.zeros((16, 16, 4), dtype=np.float32)
    sprite[:, :8] = (1.0, 0.0, 0.0, 1.0)  # only the left half is object
    canvas = np.full((64, 64, 3), 90, dtype=np.uint8)
    image, labels = paste(canvas, np.array([[2, 0.5, 0.5, 0.5, 0.5]]), sprite[None])
    np.testing.assert_allclose(labels, [[2, 0.375, 0.5, 0.25, 0.5]], atol=1 / 64)
    assert (image[16:48, 16:30] == (255, 0, 0)).all() and (image[16:48, 34:48] == 90).all()  # bilinear edge
    invisible = sprite.copy()
    invisible[..., 3] = SOLID / 2
    assert len(paste(canvas, np.array([[2, 0.5, 0.5, 0.5, 0.5]]), invisible[None])[1]) == 0


def test_the_identity_control_repastes_crops_with_exact_labels(real):
    generator = SpritePasteGenerator(n=40)
    made = generator.generate(None, real.train, 0, np.random.default_rng(1), real=real)
    again = generator.generate(None, real.train, 0, np.random.default_rng(1), real=real)
    assert len(made) == 40 and made.content_hash() == again.content_hash()
    objects = made.objects()
    assert len(objects) > 60 and set(objects[:, 0].astype(int)) <= set(real.train.objects()[:, 0].astype(int))
    lo, hi = objects[:, 1:3] - objects[:, 3:5] / 2, objects[:, 1:3] + objects[:, 3:5] / 2
    assert lo.min() >= 0 and hi.max() <= 1 + 1e-6
    # Rendered scenes: the labels are the truth, so label quality stays perfect.
    assert all(np.array_equal(a, b) for a, b in zip(made.labels, made.truth, strict=True))


def test_the_picture_keeps_crops_of_model_made_images_first(real, tmp_path):
    generator = SpritePasteGenerator(n=30)
    generator.setup(RunContext(tmp_path, 0, real=real))
    made = generator.generate(None, real.train, 0, np.random.default_rng(1), real=real)
    mixed = made.concat(
        [real.train.take(range(20)), made]
    )  # real images first, as mixing=fraction orders them
    generator.generate(None, mixed, 1, np.random.default_rng(2), real=real)
    kept = np.load(tmp_path / "generations" / "001" / "crops.npz")
    crops, classes = object_crops(made, 16)
    for c in np.unique(kept["classes"]):
        np.testing.assert_array_equal(kept["crops"][kept["classes"] == c][0], crops[classes == c][0])
    assert (tmp_path / "generations" / "000" / "crops.npz").exists()  # generation 0: the real crops


def test_the_vae_learns_sprites_and_temperature_scales_their_spread(real):
    crops, classes = object_crops(real.train, 16)
    vae = train_sprite_vae(crops, classes, 8, latent=4, epochs=8, seed=0)
    import torch

    cold = vae.sample(np.zeros(16, dtype=int), 1e-6, torch.Generator().manual_seed(0))
    warm = vae.sample(np.zeros(16, dtype=int), 1.0, torch.Generator().manual_seed(0))
    assert cold.shape == (16, 16, 16, 4) and cold.std(0).max() < 1e-3 < warm.std(0).mean()
    # Class 0's sprites look like class 0's crops more than like another class's.
    mean_0, mean_other = crops[classes == 0].mean(0), crops[classes == 2].mean(0)
    assert np.abs(warm.mean(0) - mean_0).mean() < np.abs(warm.mean(0) - mean_other).mean()
    generator = SpriteVAEGenerator(n=12, epochs=2)
    scenes = generator.generate(None, real.train, 0, np.random.default_rng(2), real=real)
    assert len(scenes) == 12 and len(scenes.objects()) > 0


def test_image_metrics_see_blur_and_colour_shift(real):
    metrics = ImageMetrics()
    scores = {}
    blurred = ndimage.gaussian_filter(real.train.images, (0, 1.2, 1.2, 0))
    shifted = np.clip(real.train.images.astype(int) + [40, -30, 0], 0, 255).astype(np.uint8)
    for name, images in (("real", real.train.images), ("blurred", blurred), ("shifted", shifted)):
        ds = metrics.measure(None, dataclasses.replace(real.train, images=images), real)
        scores[name] = {k: float(ds[k]) for k in ("sharpness", "colour_shift", "kid", "recognisability")}
    assert scores["blurred"]["sharpness"] < 0.3 * scores["real"]["sharpness"]
    assert scores["shifted"]["colour_shift"] > 3 * scores["real"]["colour_shift"]
    for worse in ("blurred", "shifted"):
        assert scores[worse]["kid"] > scores["real"]["kid"] + 10
    assert scores["real"]["recognisability"] > 0.8
    assert sharpness(np.zeros((2, 16, 16, 4), dtype=np.float32)).tolist() == [0.0, 0.0]


NO_NETWORK = """
import socket

def _refuse(*args, **kwargs):
    raise OSError("network blocked by the test: nothing may be downloaded")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
"""


@pytest.mark.slow
def test_artefact_experiment_runs_with_the_network_blocked(tmp_path, run_here):
    import subprocess
    import sys

    import collapse_sim as cs

    (tmp_path / "blocked").mkdir()
    (tmp_path / "blocked" / "sitecustomize.py").write_text(NO_NETWORK)
    env = user_env(PYTHONPATH=os.pathsep.join([str(tmp_path / "blocked"), str(ROOT)]))
    run_dir = tmp_path / "run"
    args = ["+experiment=artefact_amplification", *TINY_DETECTION, f"hydra.run.dir={run_dir}"]  # one chain
    result = subprocess.run(
        [sys.executable, "-m", "collapse_sim", *args], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ds = cs.open_run(run_dir)
    for name in ("sharpness", "colour_shift", "kid", "recognisability", "map50_95", "label_precision"):
        assert name in ds and np.isfinite(ds[name].values).all(), name
    assert ds.sharpness_by_class.dims == ("generation", "replicate", "class")
    assert (run_dir / "crops.png").stat().st_size > 5_000
    out = tmp_path / "crops_figure.png"
    drawn = run_here("docs/crops_figure.py", str(run_dir), "--labels", "replace", "--out", str(out))
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5_000
