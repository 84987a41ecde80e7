"""Train the sprite VAE (``models.sprite_vae``) on a generation's greyscale images.

The same class-conditional VAE that draws the detection family's object
sprites (``generator=sprite_vae``), here on whole images with one channel, so a
diffusion model and a VAE compare on the same real data. Each generation
trains a fresh VAE for ``epochs`` passes; its samples are decoded means
(Bernoulli likelihood), the blur that compounds when fed back.
"""

from __future__ import annotations

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import RunContext, Trainer, data_of
from collapse_sim.errors import ConfigError
from collapse_sim.images.data import ImageSet, drawn_classes


class VAEImageModel:
    """A trained VAE and the class shares of its training data."""

    def __init__(self, vae, class_share: np.ndarray) -> None:
        self.vae, self.class_share = vae, np.asarray(class_share, float)

    def sample(
        self,
        n: int,
        rng: np.random.Generator,
        *,
        steps: int | None = None,
        guidance: float = 0.0,
        temperature: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` images in [0, 1] and their classes (in the training data's shares), codes drawn from
        N(0, ``temperature`` I); ``steps`` and ``guidance`` are not options of this model."""
        import torch

        labels, seed = drawn_classes(self.class_share, n, rng)
        return self.vae.sample(labels, temperature, torch.Generator().manual_seed(seed))[..., 0], labels


class VAETrainer(Trainer):
    """A class-conditional VAE with a ``latent_dim`` code, ``epochs`` passes over the generation's images."""

    chain_bytes = 0.7e9
    needs = data_of("image") | {"real data"}
    sampling_options = ("temperature",)  # the latent spread VAEImageModel.sample honours

    def __init__(
        self,
        *,
        latent_dim: int = 8,
        epochs: int = 200,
        beta: float = 1.0,
        batch: int = 64,
        lr: float = 2e-3,
        threads: int = 1,
    ) -> None:
        self.latent_dim, self.epochs = positive_int("latent_dim", latent_dim), positive_int("epochs", epochs)
        self.batch, self.threads = positive_int("batch", batch), positive_int("threads", threads)
        if not beta > 0:
            raise ConfigError("beta", f"must be > 0 (1 = the evidence lower bound), got {beta!r}")
        if not lr > 0:
            raise ConfigError("lr", f"must be > 0, got {lr!r}")
        self.beta, self.lr, self.n_classes = float(beta), float(lr), None

    def check(self, sim) -> None:
        """The VAE is square and halves an image twice: square images, sides a multiple of 4. Each
        generation trains a fresh one: warm starts are not offered."""
        if sim.warm_start:
            raise ConfigError(
                "warm_start",
                "is true but trainer=vae trains a fresh VAE each generation; set warm_start=false "
                "(trainer=ddpm continues the previous generation's network)",
            )
        height, width = sim.source.truth.size
        if height != width or height % 4:
            raise ConfigError(
                "trainer",
                f"vae needs square images whose side is a multiple of 4; the source's are {height}x{width}",
            )

    def setup(self, context: RunContext) -> None:
        """The number of classes, from the run's real data."""
        self.n_classes = len(context.real.truth.names)

    def fit(self, data: ImageSet, *, init=None, rng: np.random.Generator, generation: int):
        """A fresh VAE trained on ``data``."""
        import torch

        from collapse_sim.models.sprite_vae import train_sprite_vae

        if self.n_classes is None:
            raise RuntimeError("VAETrainer.fit before setup(context): the run hands it the classes")
        torch.set_num_threads(self.threads)
        vae = train_sprite_vae(
            data.images[..., None],
            data.labels,
            self.n_classes,
            latent=self.latent_dim,
            epochs=self.epochs,
            batch=self.batch,
            lr=self.lr,
            beta=self.beta,
            seed=int(rng.integers(2**31)),
        )
        return VAEImageModel(vae, data.class_shares(self.n_classes))
