"""Images drawn by the generation's image model (``trainer=ddpm`` or ``trainer=vae``).

Classes are drawn in the shares the model saw them (its training labels), so a
class that thins out in one generation's data is drawn less in the next, as
with any learned class prior; each image is drawn for its class.

Sampling bias, after Alemohammad et al. (2024, "Self-consuming generative
models go MAD"): their λ in (0, 1] is any knob that trades diversity for
quality (λ = 1 unbiased; StyleGAN's truncation ψ is one). Here it is
classifier-free ``guidance`` w for ``trainer=ddpm`` (Ho & Salimans 2022): w =
0 is λ = 1, and a larger w is a smaller λ (more biased); the map is monotone,
not a formula, so compare directions, not values. ``temperature`` scales the
VAE's latent spread (``trainer=vae``; below 1 is biased). ``steps`` is the
number of respaced sampling steps of a DDPM (null: the whole schedule).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from collapse_sim.checks import positive_int, set_options
from collapse_sim.components import Generator, RunContext, data_of, sampling
from collapse_sim.errors import ConfigError
from collapse_sim.images.data import ImageSet
from collapse_sim.reporting.crops import keep_examples

NEUTRAL_IMAGE_SAMPLING = {"steps": None, "guidance": 0.0, "temperature": 1.0}
EXAMPLES_PER_CLASS = 8  # images kept per class and generation for the run's sample grid
SAMPLES_TITLE = "images drawn by each generation's model, by class (first chain)"


def image_sampling(steps: int | None, guidance: float, temperature: float) -> dict:
    """Checked sampling options of an image model."""
    if steps is not None:
        positive_int("steps", steps, minimum=2)
    if not (isinstance(guidance, (int, float)) and guidance >= 0):
        raise ConfigError("guidance", f"must be a number >= 0 (0: no guidance, unbiased), got {guidance!r}")
    if not temperature > 0:
        raise ConfigError("temperature", f"must be > 0 (1: unbiased), got {temperature!r}")
    return {"steps": steps, "guidance": float(guidance), "temperature": float(temperature)}


class ImageSampleGenerator(Generator):
    """``n`` images from the generation's model, with the sampling options it is given."""

    needs = data_of("image")

    def __init__(
        self, *, n: int, steps: int | None = None, guidance: float = 0.0, temperature: float = 1.0
    ) -> None:
        self.n = positive_int("n", n)
        self.options = image_sampling(steps, guidance, temperature)
        # The options set away from neutral: the trainer's models must honour them.
        self.needs = type(self).needs | sampling(*set_options(self.options, NEUTRAL_IMAGE_SAMPLING))
        self.workdir: Path | None = None

    def setup(self, context: RunContext) -> None:
        """Examples of each generation's images go under the chain's folder (``generations/NNN/``)."""
        self.workdir = Path(context.folder)

    def generate(self, model, data: ImageSet, generation: int, rng: np.random.Generator, *, real=None):
        """``n`` new images from ``model`` (the model of ``generation``)."""
        images, labels = model.sample(self.n, rng, **self.options)
        if self.workdir is not None:
            grey = np.repeat(images[..., None], 3, axis=-1)
            keep_examples(self.workdir, generation, grey, labels, SAMPLES_TITLE, EXAMPLES_PER_CLASS)
        return ImageSet.made_by(generation, images, labels)
