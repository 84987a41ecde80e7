"""A small class-conditional VAE of object sprites (RGBA) or greyscale images, trained with torch.

Encoder and decoder are two strided convolutions each around a ``latent``
Gaussian code; the class enters both as one-hot channels. Reconstructions are
Bernoulli-likelihood (binary cross-entropy) on every channel, the usual
choice whose blur, fed back generation after generation, is the artefact
this model exists to show.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

HIDDEN = (32, 64)  # channels after the first and second stride-2 convolution


class SpriteVAE(nn.Module):
    """q(z | sprite, class) and p(sprite | z, class) for sprites of ``size`` pixels (a multiple of 4) with
    ``channels`` channels (4: RGBA, 1: grey)."""

    def __init__(self, n_classes: int, size: int, latent: int, channels: int = 4) -> None:
        super().__init__()
        self.n_classes, self.size, self.latent, self.channels = n_classes, size, latent, channels
        inner = HIDDEN[1] * (size // 4) ** 2
        self.encoder = nn.Sequential(
            nn.Conv2d(channels + n_classes, HIDDEN[0], 4, 2, 1),
            nn.SiLU(),
            nn.Conv2d(HIDDEN[0], HIDDEN[1], 4, 2, 1),
            nn.SiLU(),
            nn.Flatten(),
            nn.Linear(inner, 2 * latent),
        )
        self.expand = nn.Linear(latent + n_classes, inner)
        self.decoder = nn.Sequential(
            nn.SiLU(),
            nn.ConvTranspose2d(HIDDEN[1], HIDDEN[0], 4, 2, 1),
            nn.SiLU(),
            nn.ConvTranspose2d(HIDDEN[0], channels, 4, 2, 1),
        )

    def _onehot(self, classes: torch.Tensor) -> torch.Tensor:
        return F.one_hot(classes, self.n_classes).float()

    def decode_logits(self, z: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """Pixel logits (n, 4, size, size) of codes ``z`` for ``classes``."""
        inner = self.expand(torch.cat([z, self._onehot(classes)], dim=1))
        return self.decoder(inner.view(len(z), HIDDEN[1], self.size // 4, self.size // 4))

    def loss(self, sprites: torch.Tensor, classes: torch.Tensor, beta: float) -> torch.Tensor:
        """Negative ELBO per sprite (summed over pixels), averaged over the batch."""
        condition = self._onehot(classes)[:, :, None, None].expand(-1, -1, self.size, self.size)
        mean, log_var = self.encoder(torch.cat([sprites, condition], dim=1)).chunk(2, dim=1)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        logits = self.decode_logits(z, classes)
        reconstruction = F.binary_cross_entropy_with_logits(logits, sprites, reduction="sum")
        kl = -0.5 * (1 + log_var - mean.pow(2) - log_var.exp()).sum()
        return (reconstruction + beta * kl) / len(sprites)

    @torch.no_grad()
    def sample(self, classes: np.ndarray, temperature: float, generator: torch.Generator) -> np.ndarray:
        """One sprite (size, size, channels) in [0, 1] per class in ``classes``, codes drawn from
        N(0, temperature I)."""
        wanted = torch.as_tensor(classes, dtype=torch.long)
        z = torch.randn(len(wanted), self.latent, generator=generator) * temperature**0.5
        return torch.sigmoid(self.decode_logits(z, wanted)).permute(0, 2, 3, 1).numpy()


def train_sprite_vae(
    sprites: np.ndarray,
    classes: np.ndarray,
    n_classes: int,
    *,
    latent: int,
    epochs: int,
    batch: int = 64,
    lr: float = 2e-3,
    beta: float = 1.0,
    seed: int,
) -> SpriteVAE:
    """Fit a fresh ``SpriteVAE`` to ``sprites`` (N, size, size, channels) in [0, 1] of ``classes``."""
    torch.manual_seed(seed)  # initial weights and the reparameterisation noise
    model = SpriteVAE(n_classes, sprites.shape[1], latent, channels=sprites.shape[3])
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    data = torch.as_tensor(sprites).permute(0, 3, 1, 2).contiguous()
    labels = torch.as_tensor(classes, dtype=torch.long)
    order_rng = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=order_rng)
        for start in range(0, len(order), batch):
            chosen = order[start : start + batch]
            loss = model.loss(data[chosen], labels[chosen], beta)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    return model.eval()
