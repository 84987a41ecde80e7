"""Scenes of pasted object sprites: from a learned model (``sprite_vae``) or the crops (``sprite_paste``).

Both refit the scene law's counts, sizes and positions to the generation's
labels, crop every labelled object into a sprite with a mask read from the
crop, and paste sprites onto fresh backgrounds; each label is the pasted
sprite's extent. ``sprite_vae`` draws the sprites from a class-conditional VAE
trained on the crops; ``sprite_paste`` re-pastes the crops unchanged, the
control that shows what the crop-and-paste round trip alone costs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import Generator, RunContext
from collapse_sim.errors import ConfigError
from collapse_sim.reporting.crops import CROPS_TITLE, keep_examples
from collapse_sim.samples import REAL
from collapse_sim.scenes.dataset import DetectionSet
from collapse_sim.scenes.law import MAX_SIZE, fit_law
from collapse_sim.scenes.render import background
from collapse_sim.scenes.sprites import object_crops_by_image, paste

EXAMPLE_IMAGES = 120  # images cropped for the picture: enough to find most classes


class SpritePasteGenerator(Generator):
    """Crop every labelled object, then paste crops of the same class into scenes from the refitted law."""

    needs = frozenset({"scene law", "run folder"})
    EXAMPLES_PER_CLASS = 6  # crops kept per class and generation for the run's crops.png

    def __init__(self, *, n: int, sprite_size: int = 16) -> None:
        self.workdir: Path | None = None
        self.n = positive_int("n", n)
        self.sprite_size = positive_int("sprite_size", sprite_size, minimum=8)
        if self.sprite_size % 4:
            raise ConfigError(
                "sprite_size", f"must be a multiple of 4 (two stride-2 layers), got {sprite_size}"
            )

    def check(self, sim) -> None:
        """Sprites are drawn no larger than the largest object, so they must fit in one."""
        image_size = sim.source.image_size
        if self.sprite_size > MAX_SIZE * image_size:
            raise ConfigError(
                "generator.sprite_size",
                f"is {self.sprite_size} pixels but the largest object in source.image_size={image_size} "
                f"images spans {int(MAX_SIZE * image_size)}; lower sprite_size or raise source.image_size",
            )

    def setup(self, context: RunContext) -> None:
        """Each generation's example crops go under the chain's folder (``generations/NNN/crops.npz``)."""
        self.workdir = Path(context.folder)

    def _keep_examples(self, data: DetectionSet, crops, classes, image_of, generation: int) -> None:
        """The first crops of each class the generation trained on, for the picture across generations.

        Model-made images come first: with a share of real images mixed in, the picture shows
        what the generator drew, and real crops only where nothing was drawn (generation 0).
        ``crops`` are every crop of ``data``, ``image_of`` the image each comes from.
        """
        if self.workdir is None:
            return
        made = np.flatnonzero(data.origin[0] != REAL)
        examples = made[:EXAMPLE_IMAGES] if len(made) else np.arange(min(len(data), EXAMPLE_IMAGES))
        shown = np.isin(image_of, examples)  # crops are in image order, as the examples are
        crops, classes = crops[shown], classes[shown]
        if not len(crops):
            return
        keep_examples(self.workdir, generation, crops, classes, CROPS_TITLE, self.EXAMPLES_PER_CLASS)

    def sprite_model(self, crops: np.ndarray, classes: np.ndarray, n_classes: int, rng: np.random.Generator):
        """What ``sprites_for`` draws from: here the crops themselves, by class."""
        return {c: crops[classes == c] for c in np.unique(classes)}

    def sprites_for(self, model, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One sprite per class in ``classes``: a crop of that class drawn at random."""
        return (
            np.stack([model[c][rng.integers(len(model[c]))] for c in classes])
            if len(classes)
            else np.zeros(0)
        )

    def generate(
        self, model, data: DetectionSet, generation: int, rng: np.random.Generator, *, real
    ) -> DetectionSet:
        """``n`` scenes of sprites pasted where the refitted law puts objects."""
        law = fit_law(data.images, data.labels, real.truth.law.shapes)
        crops, classes, image_of = object_crops_by_image(data, self.sprite_size)
        if not len(crops):
            raise RuntimeError(
                f"generation {generation}'s training images hold no object to learn sprites from"
            )
        self._keep_examples(data, crops, classes, image_of, generation)
        # A class whose objects were all too small to crop has nothing to draw from: it is not drawn.
        law = dataclasses.replace(
            law, count_mean=np.where(np.isin(np.arange(law.count_mean.size), classes), law.count_mean, 0.0)
        )
        sprites = self.sprite_model(crops, classes, len(data.names), rng)
        images = np.empty((self.n, data.image_size, data.image_size, 3), dtype=np.uint8)
        labels = []
        for i in range(self.n):
            objects, _ = law.sample_objects(rng)
            drawn = self.sprites_for(sprites, objects[:, 0].astype(int), rng)
            images[i], image_labels = paste(background(data.image_size, rng), objects, drawn)
            labels.append(image_labels)
        return DetectionSet.made_by(generation, images, labels, labels, data.names)


class SpriteVAEGenerator(SpritePasteGenerator):
    """A class-conditional VAE trained on this generation's object sprites; scenes of its samples.

    ``temperature`` scales the latent spread (codes from N(0, T I)); ``latent_dim``,
    ``epochs`` and ``beta`` set the model and its training. Trained from scratch in the run.
    """

    # The VAE and its crops: +46 MB peak RSS over sprite_paste at 150 images a generation (measured with
    # /usr/bin/time -v on artefact_amplification, one chain); rounded up for the default 300.
    chain_bytes = 0.1e9

    def __init__(
        self,
        *,
        n: int,
        sprite_size: int = 16,
        latent_dim: int = 8,
        epochs: int = 30,
        beta: float = 1.0,
        temperature: float = 1.0,
    ) -> None:
        super().__init__(n=n, sprite_size=sprite_size)
        self.latent_dim = positive_int("latent_dim", latent_dim)
        self.epochs = positive_int("epochs", epochs)
        if not beta > 0:
            raise ConfigError("beta", f"must be > 0 (the KL weight; 1 = the ELBO), got {beta!r}")
        if not temperature > 0:
            raise ConfigError("temperature", f"must be > 0 (1 = faithful sampling), got {temperature!r}")
        self.beta, self.temperature = float(beta), float(temperature)

    def sprite_model(self, crops: np.ndarray, classes: np.ndarray, n_classes: int, rng: np.random.Generator):
        """The VAE, trained on the generation's crops with a seed from ``rng``."""
        from collapse_sim.models.sprite_vae import train_sprite_vae

        seed = int(rng.integers(2**31))
        return train_sprite_vae(
            crops, classes, n_classes, latent=self.latent_dim, epochs=self.epochs, beta=self.beta, seed=seed
        )

    def sprites_for(self, model, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One decoded sprite per class in ``classes``."""
        import torch

        generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
        return model.sample(classes, self.temperature, generator)
