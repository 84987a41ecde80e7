"""Train a small class-conditional diffusion model (DDPM) on a generation's images.

Each generation trains a fresh network (``warm_start`` continues the previous
one) for ``iterations`` AdamW steps of ``batch`` images, the learning rate
decaying along a cosine to a tenth of ``lr``; ``models.ddpm`` holds the network,
the loss and the sampler. On a CPU a seed gives the same weights every time
(``threads`` is fixed), so a killed run resumes to identical values; on CUDA
the images stay on the GPU and the forward pass runs in bf16 autocast.
"""

from __future__ import annotations

import math

import numpy as np

from collapse_sim.checks import positive_int
from collapse_sim.components import RunContext, Trainer, data_of
from collapse_sim.devices import resolve_device
from collapse_sim.errors import ConfigError
from collapse_sim.images.data import ImageSet


class DDPMTrainer(Trainer):
    """A denoising U-Net of ``width`` channels over a ``timesteps``-step schedule, ``iterations`` steps."""

    chain_bytes = 0.9e9  # a chain process on digits: 0.6-0.7 GB peak RSS measured
    needs = data_of("image") | {"real data", "epoch progress"}
    sampling_options = ("steps", "guidance")  # what DiffusionModel.sample honours

    def __init__(
        self,
        *,
        width: int = 16,
        timesteps: int = 1000,
        iterations: int = 1000,
        batch: int = 64,
        lr: float = 2e-3,
        device: str = "auto",
        threads: int = 1,
    ) -> None:
        self.width = positive_int("width", width, minimum=8)
        if self.width % 8:
            raise ConfigError("width", f"must be a multiple of 8 (group norm of 8 groups), got {width}")
        self.timesteps = positive_int("timesteps", timesteps, minimum=10)
        self.iterations, self.batch = positive_int("iterations", iterations), positive_int("batch", batch)
        self.threads = positive_int("threads", threads)
        if not lr > 0:
            raise ConfigError("lr", f"must be > 0, got {lr!r}")
        self.lr, self.device = float(lr), resolve_device(device)
        self.n_classes = self.progress = None

    def check(self, sim) -> None:
        """The network halves the image twice (an odd side rounds up): its sides must be at least 4."""
        height, width = sim.source.truth.size
        if min(height, width) < 4:
            raise ConfigError(
                "trainer",
                f"ddpm's U-Net halves an image twice, so its sides must be at least 4 pixels; the source's "
                f"images are {height}x{width}",
            )

    def setup(self, context: RunContext) -> None:
        """The number of classes, from the run's real data, and the progress callback."""
        self.n_classes, self.progress = len(context.real.truth.names), context.progress

    def fit(self, data: ImageSet, *, init=None, rng: np.random.Generator, generation: int):
        """A network trained on ``data`` (from ``init``'s weights when warm-starting)."""
        import torch

        from collapse_sim.models.ddpm import DenoisingUNet, DiffusionModel, denoising_loss, noise_schedule

        if self.n_classes is None:
            raise RuntimeError("DDPMTrainer.fit before setup(context): the run hands it the classes")
        if self.device == "cpu":
            torch.set_num_threads(self.threads)
        torch.manual_seed(int(rng.integers(2**31)))
        network = DenoisingUNet(self.n_classes, self.width)
        if init is not None:
            network.load_state_dict(init.state)
        alpha_bar = noise_schedule(self.timesteps).to(self.device)
        state = train_denoiser(
            network,
            lambda net, images, labels: denoising_loss(net, images, labels, alpha_bar),
            data,
            rng,
            iterations=self.iterations,
            batch=self.batch,
            lr=self.lr,
            device=self.device,
            progress=self.progress,
        )
        return DiffusionModel(
            state,
            n_classes=self.n_classes,
            width=self.width,
            timesteps=self.timesteps,
            size=data.size,
            class_share=data.class_shares(self.n_classes),
            device=self.device,
        )


def train_denoiser(
    network,
    loss,
    data: ImageSet,
    rng: np.random.Generator,
    *,
    iterations: int,
    batch: int,
    lr: float,
    device: str,
    progress=None,
) -> dict:
    """The weights of ``network`` after ``iterations`` AdamW steps on ``batch`` images of ``data`` drawn by
    ``rng``, the learning rate decaying along a cosine to a tenth of ``lr``; ``loss(network, images,
    labels)`` is the step's denoising loss (``trainer=ddpm``'s and ``diffusers_unet``'s). The images stay on
    ``device`` for the whole fit; on CUDA the forward pass runs in bf16 autocast."""
    import torch

    from collapse_sim.models.ddpm import to_network

    network.to(device).train()
    optimiser = torch.optim.AdamW(network.parameters(), lr=lr)
    images = to_network(data.images).to(device)
    labels = torch.as_tensor(data.labels, dtype=torch.long, device=device)
    on_gpu, report = device.startswith("cuda"), max(1, iterations // 10)
    for step in range(iterations):
        optimiser.param_groups[0]["lr"] = lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / iterations)))
        rows = torch.as_tensor(rng.integers(len(images), size=batch), device=device)
        with torch.autocast("cuda", torch.bfloat16, enabled=on_gpu):
            value = loss(network, images[rows], labels[rows])
        optimiser.zero_grad(set_to_none=True)
        value.float().backward()
        optimiser.step()
        if progress is not None and ((step + 1) % report == 0 or step + 1 == iterations):
            progress(step + 1, iterations)
    return {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
