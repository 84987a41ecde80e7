"""A small class-conditional denoising diffusion model (Ho et al. 2020) with classifier-free guidance.

The network predicts the noise added to an image at step t of a linear
schedule of ``timesteps`` steps (1e-4 to 0.02, as in DDPM). It is a compact
U-Net for single-channel images at least 4 pixels a side (8x8 digits, 14x14 or
28x28 MNIST): two resolutions below the input, a residual block at each, the
time step and the class added to every block. One label in ten is dropped
while training (Ho & Salimans 2022), so the same network also predicts the
noise without a class; sampling then mixes the two,
``eps = (1 + w) eps(x, t, class) - w eps(x, t)``: ``guidance`` w = 0 samples
the learned distribution, a larger w trades diversity for quality. Sampling
takes ``steps`` ancestral steps on the schedule respaced to that many steps
(Nichol & Dhariwal 2021), so fewer steps cost less and sample the same model.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from collapse_sim.images.data import drawn_classes

BETA_START, BETA_END = 1e-4, 0.02  # DDPM's linear schedule
LABEL_DROPOUT = 0.1  # share of training labels replaced by "no class" (classifier-free guidance)


def noise_schedule(timesteps: int) -> torch.Tensor:
    """alpha-bar_t, the share of the image left at each step of the linear schedule (``timesteps`` long)."""
    # DDPM's schedule is defined for 1000 steps; a shorter one keeps its end points.
    betas = torch.linspace(BETA_START * 1000 / timesteps, BETA_END * 1000 / timesteps, timesteps)
    return torch.cumprod(1 - betas.clamp(max=0.999).double(), 0).float()


def timestep_features(t: torch.Tensor, width: int) -> torch.Tensor:
    """Sinusoidal features of the time steps ``t`` (Vaswani et al. 2017), ``width`` wide."""
    half = width // 2
    frequencies = torch.exp(-math.log(10_000) * torch.arange(half, dtype=torch.float32) / half)
    angles = t.float()[:, None] * frequencies.to(t.device)[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with group norm; the step and class embedding is added between them."""

    def __init__(self, inputs: int, outputs: int, embedding: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, inputs), nn.Conv2d(inputs, outputs, 3, padding=1)
        self.project = nn.Linear(embedding, outputs)
        self.norm2, self.conv2 = nn.GroupNorm(8, outputs), nn.Conv2d(outputs, outputs, 3, padding=1)
        self.skip = nn.Conv2d(inputs, outputs, 1) if inputs != outputs else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """The block's output for ``x`` under ``embedding``."""
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.project(embedding)[:, :, None, None]
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class DenoisingUNet(nn.Module):
    """eps(x_t, t, class): a U-Net of ``width`` channels at the input resolution, twice that below it."""

    def __init__(self, n_classes: int, width: int = 32) -> None:
        super().__init__()
        self.n_classes, self.width = n_classes, width
        embedding = 4 * width
        self.time = nn.Sequential(nn.Linear(width, embedding), nn.SiLU(), nn.Linear(embedding, embedding))
        self.label = nn.Embedding(n_classes + 1, embedding)  # the last label is "no class"
        wide = 2 * width
        self.enter = nn.Conv2d(1, width, 3, padding=1)
        self.block1 = ResidualBlock(width, width, embedding)
        self.down1 = nn.Conv2d(width, wide, 3, stride=2, padding=1)
        self.block2 = ResidualBlock(wide, wide, embedding)
        self.down2 = nn.Conv2d(wide, wide, 3, stride=2, padding=1)
        self.middle = ResidualBlock(wide, wide, embedding)
        self.up2 = nn.Conv2d(wide, wide, 3, padding=1)
        self.block3 = ResidualBlock(2 * wide, wide, embedding)
        self.up1 = nn.Conv2d(wide, width, 3, padding=1)
        self.block4 = ResidualBlock(2 * width, width, embedding)
        self.leave = nn.Sequential(nn.GroupNorm(8, width), nn.SiLU(), nn.Conv2d(width, 1, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The predicted noise of images ``x`` (n, 1, H, W) at steps ``t`` given ``labels`` (n_classes:
        none)."""
        e = self.time(timestep_features(t, self.width)) + self.label(labels)
        h1 = self.block1(self.enter(x), e)
        h2 = self.block2(self.down1(h1), e)
        h = self.middle(self.down2(h2), e)
        h = self.up2(F.interpolate(h, size=h2.shape[-2:], mode="nearest"))
        h = self.block3(torch.cat([h, h2], 1), e)
        h = self.up1(F.interpolate(h, size=h1.shape[-2:], mode="nearest"))
        return self.leave(self.block4(torch.cat([h, h1], 1), e))


def denoising_loss(
    network: DenoisingUNet, images: torch.Tensor, labels: torch.Tensor, alpha_bar: torch.Tensor
) -> torch.Tensor:
    """DDPM's simple loss: the mean squared error of the predicted noise at uniformly drawn steps, with
    ``LABEL_DROPOUT`` of the labels replaced by "no class"."""
    n = len(images)
    t = torch.randint(len(alpha_bar), (n,), device=images.device)
    noise = torch.randn_like(images)
    kept = alpha_bar[t].view(n, 1, 1, 1)
    noisy = kept.sqrt() * images + (1 - kept).sqrt() * noise
    dropped = torch.rand(n, device=images.device) < LABEL_DROPOUT
    labels = torch.where(dropped, torch.full_like(labels, network.n_classes), labels)
    return F.mse_loss(network(noisy, t, labels), noise)


def guided_noise(predict, x, t, wanted, none, guidance: float) -> torch.Tensor:
    """The noise to remove from ``x`` at steps ``t``: ``predict(x, t, labels)`` for the ``wanted`` classes,
    or with classifier-free guidance w > 0, ``(1 + w) eps(x, t, class) - w eps(x, t, none)`` (Ho & Salimans
    2022), both predictions from one call on the doubled batch."""
    if not guidance:
        return predict(x, t, wanted).float()
    both = predict(torch.cat([x, x]), torch.cat([t, t]), torch.cat([wanted, none]))
    conditional, unconditional = both.float().chunk(2)
    return (1 + guidance) * conditional - guidance * unconditional


@torch.no_grad()
def sample_images(
    network: DenoisingUNet,
    labels: torch.Tensor,
    size: tuple[int, int],
    alpha_bar: torch.Tensor,
    *,
    steps: int,
    guidance: float,
    generator: torch.Generator,
    batch: int = 1000,
) -> torch.Tensor:
    """Images in [-1, 1] (n, 1, H, W), one per label, by ancestral sampling over ``steps`` respaced steps
    with classifier-free ``guidance``."""
    device = alpha_bar.device
    chosen = torch.linspace(0, len(alpha_bar) - 1, steps).round().long().unique().to(device)
    kept = alpha_bar[chosen]
    previous = torch.cat([kept.new_ones(1), kept[:-1]])
    betas = 1 - kept / previous  # the respaced schedule's per-step noise (Nichol & Dhariwal 2021, eq. 19)
    out = []
    for start in range(0, len(labels), batch):
        wanted = labels[start : start + batch].to(device)
        n = len(wanted)
        x = torch.randn((n, 1, *size), generator=generator, device="cpu").to(device)
        none = torch.full_like(wanted, network.n_classes)
        for i in reversed(range(len(chosen))):
            t = chosen[i].expand(n)
            eps = guided_noise(network, x, t, wanted, none, guidance)
            mean = (x - betas[i] / (1 - kept[i]).sqrt() * eps) / (1 - betas[i]).sqrt()
            if i:
                variance = betas[i] * (1 - previous[i]) / (1 - kept[i])  # the posterior's, beta-tilde
                noise = torch.randn(x.shape, generator=generator, device="cpu").to(device)
                x = mean + variance.sqrt() * noise
            else:
                x = mean
        out.append(x.clamp(-1, 1).cpu())
    return torch.cat(out)


def to_network(images: np.ndarray) -> torch.Tensor:
    """Images (n, H, W) in [0, 1] as the network's input (n, 1, H, W) in [-1, 1]."""
    return torch.as_tensor(np.asarray(images, dtype=np.float32) * 2 - 1).unsqueeze(1)


class DiffusionModel:
    """A trained denoiser and the class shares of its training data: what a generation's DDPM draws from.

    Picklable (weights on the CPU); the network is rebuilt on ``device`` when
    first sampled.
    """

    def __init__(
        self,
        state: dict,
        *,
        n_classes: int,
        width: int,
        timesteps: int,
        size: tuple[int, int],
        class_share: np.ndarray,
        device: str = "cpu",
    ) -> None:
        self.state, self.n_classes, self.width, self.timesteps = state, n_classes, width, timesteps
        self.size, self.class_share, self.device = tuple(size), np.asarray(class_share, float), device
        self._network = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_network": None}

    def network(self) -> DenoisingUNet:
        """The denoiser, built once on the model's device."""
        if self._network is None:
            network = DenoisingUNet(self.n_classes, self.width)
            network.load_state_dict(self.state)
            self._network = network.to(self.device).eval()
        return self._network

    def sample(
        self,
        n: int,
        rng: np.random.Generator,
        *,
        steps: int | None = None,
        guidance: float = 0.0,
        temperature: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` images (n, H, W) in [0, 1] and the class each was drawn for, classes in the training
        data's shares; ``steps`` respaced sampling steps (None: all ``timesteps``), ``guidance`` w of
        classifier-free guidance (0: none). ``temperature`` is not an option of this model (only 1)."""
        labels, seed = drawn_classes(self.class_share, n, rng)
        generator = torch.Generator().manual_seed(seed)
        alpha_bar = noise_schedule(self.timesteps).to(self.device)
        with torch.autocast("cuda", torch.bfloat16, enabled=self.device.startswith("cuda")):
            images = sample_images(
                self.network(),
                torch.as_tensor(labels, dtype=torch.long),
                self.size,
                alpha_bar,
                steps=steps or self.timesteps,
                guidance=float(guidance),
                generator=generator,
            )
        return ((images[:, 0].float().numpy() + 1) / 2).astype(np.float32), labels
