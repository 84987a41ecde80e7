"""A diffusers ``UNet2DModel`` and its schedulers as a generation's image model (``trainer=diffusers_unet``).

The U-Net is class-conditional through its class embeddings: ``num_class_embeds``
is the number of classes plus one, the last meaning "no class", so the same
network predicts the noise with and without a class and sampling mixes the
two with classifier-free guidance as ``trainer=ddpm`` does (``eps = (1 + w)
eps(x, t, class) - w eps(x, t)``). Sampling takes ``steps`` steps of a DDPM
or DDIM scheduler respaced over the training schedule (``linspace`` spacing,
the same steps ``trainer=ddpm`` takes). Only this module and its trainer
import diffusers.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from collapse_sim.images.data import drawn_classes

SAMPLERS = ("ddpm", "ddim")
UNET_FOLDER, SCHEDULER_FOLDER = "unet", "scheduler"  # a pipeline folder's parts, as save_pretrained lays them


def quiet_diffusers(*, offline: bool = True):
    """The ``diffusers`` module, its progress bars and advisory logging off; ``offline``: nothing waits on
    the hub (``HF_HUB_OFFLINE=1`` unless the environment already says otherwise)."""
    if offline:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import diffusers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    return diffusers


def build_unet(config: dict, state: dict | None = None):
    """A ``UNet2DModel`` of ``config`` (its ``config`` dict), with the weights ``state`` when given."""
    unet = quiet_diffusers().UNet2DModel.from_config(config)
    if state is not None:
        unet.load_state_dict(state)
    return unet


def sampling_scheduler(kind: str, scheduler_config: dict, steps: int):
    """A ``kind`` scheduler (ddpm or ddim) of the training schedule's config, at ``steps`` respaced steps."""
    diffusers = quiet_diffusers()
    cls = diffusers.DDPMScheduler if kind == "ddpm" else diffusers.DDIMScheduler
    scheduler = cls.from_config(scheduler_config, timestep_spacing="linspace")
    # More steps than the schedule has: every step once, as trainer=ddpm's respacing gives.
    scheduler.set_timesteps(min(steps, int(scheduler_config["num_train_timesteps"])))
    return scheduler


def denoising_loss(network, schedule, images, labels, n_classes: int):
    """DDPM's simple loss on a diffusers U-Net: the mean squared error of the noise it predicts at uniformly
    drawn steps of ``schedule`` (a ``DDPMScheduler``), ddpm's share of the labels replaced by "no class"
    (``n_classes``). The same draws, in the same order, as ``trainer=ddpm``'s loss."""
    import torch
    from torch.nn import functional as F

    from collapse_sim.models.ddpm import LABEL_DROPOUT

    n = len(images)
    t = torch.randint(schedule.config.num_train_timesteps, (n,), device=images.device)
    noise = torch.randn_like(images)
    dropped = torch.rand(n, device=images.device) < LABEL_DROPOUT
    labels = torch.where(dropped, torch.full_like(labels, n_classes), labels)
    predicted = network(schedule.add_noise(images, noise, t), t, class_labels=labels).sample
    return F.mse_loss(predicted.float(), noise)


class DiffusersImageModel:
    """A trained diffusers U-Net, its training schedule and the class shares of its training data.

    Picklable (weights on the CPU, configs as dicts); the network is rebuilt on
    ``device`` when first sampled. ``save`` writes it as a pipeline folder
    (``unet/`` and ``scheduler/``, each with ``save_pretrained``), which
    ``trainer.model`` reads back.
    """

    def __init__(
        self,
        config: dict,
        state: dict,
        scheduler_config: dict,
        *,
        n_classes: int,
        size: tuple[int, int],
        class_share: np.ndarray,
        sampler: str = "ddpm",
        device: str = "cpu",
    ) -> None:
        self.config, self.state, self.scheduler_config = dict(config), state, dict(scheduler_config)
        self.n_classes, self.size, self.sampler, self.device = n_classes, tuple(size), sampler, device
        self.class_share = np.asarray(class_share, float)
        self._network = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_network": None}

    @property
    def timesteps(self) -> int:
        """The training schedule's length."""
        return int(self.scheduler_config["num_train_timesteps"])

    def network(self):
        """The U-Net, built once on the model's device."""
        if self._network is None:
            self._network = build_unet(self.config, self.state).to(self.device).eval()
        return self._network

    def save(self, folder) -> None:
        """The model as a pipeline folder: ``unet/`` and ``scheduler/``, each by ``save_pretrained``."""
        diffusers = quiet_diffusers()
        self.network().save_pretrained(Path(folder) / UNET_FOLDER)
        scheduler = diffusers.DDPMScheduler.from_config(self.scheduler_config)
        scheduler.save_pretrained(Path(folder) / SCHEDULER_FOLDER)

    def sample(
        self,
        n: int,
        rng: np.random.Generator,
        *,
        steps: int | None = None,
        guidance: float = 0.0,
        temperature: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` images (n, H, W) in [0, 1] and the class each was drawn for, classes in the training data's
        shares; ``steps`` respaced steps of the model's sampler (None: the whole schedule), ``guidance`` w of
        classifier-free guidance (0: none). ``temperature`` is not an option of this model (only 1)."""
        import torch

        labels, seed = drawn_classes(self.class_share, n, rng)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad(), torch.autocast("cuda", torch.bfloat16, enabled=self.device.startswith("cuda")):
            images = self._denoise(
                torch.as_tensor(labels, dtype=torch.long), steps, float(guidance), generator
            )
        return ((images[:, 0].float().numpy() + 1) / 2).astype(np.float32), labels

    def _denoise(self, labels, steps: int | None, guidance: float, generator, batch: int = 1000):
        """Images in [-1, 1] (n, 1, H, W), one per label, from noise through the respaced schedule."""
        import torch

        from collapse_sim.models.ddpm import guided_noise

        network, out = self.network(), []

        def predict(x, t, labels):
            return network(x, t, class_labels=labels).sample

        for start in range(0, len(labels), batch):
            wanted = labels[start : start + batch].to(self.device)
            scheduler = sampling_scheduler(self.sampler, self.scheduler_config, steps or self.timesteps)
            x = torch.randn((len(wanted), 1, *self.size), generator=generator).to(self.device)
            none = torch.full_like(wanted, self.n_classes)
            for t in scheduler.timesteps:
                step = t.to(self.device).expand(len(wanted))
                eps = guided_noise(predict, x, step, wanted, none, guidance)
                # The scheduler draws its noise on the CPU from our generator: the same images on any device.
                x = scheduler.step(eps, t, x, generator=generator).prev_sample
            out.append(x.clamp(-1, 1).cpu())
        return torch.cat(out)
