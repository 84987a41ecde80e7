"""Train a diffusers ``UNet2DModel`` on a generation's images (``trainer=diffusers_unet``).

The network is the user's (``model``: a local folder that ``save_pretrained``
wrote, a pipeline folder holding ``unet/``, or a hub id for users with the
hub), fine-tuned every generation from its own weights; or, without ``model``,
one built from ``channels`` and ``layers_per_block`` and trained from scratch.
Either way it is class-conditional through ``num_class_embeds`` (the run's
classes plus "no class"), trained with DDPM's noise-prediction loss on a
diffusers ``DDPMScheduler`` by the same loop as ``trainer=ddpm`` (AdamW,
cosine decay to a tenth of ``lr``, one label in ten dropped for guidance), so
seeds, threads and resume stay the run's. Each chain's latest model is
written as a pipeline folder (``diffusers_unet/``: ``unet/`` and
``scheduler/``, ``save_pretrained``) in its folder. diffusers is imported only
when this trainer is chosen.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from collapse_sim.checkpoints import replace_folder
from collapse_sim.checks import positive_int
from collapse_sim.components import RunContext, Trainer, data_of
from collapse_sim.devices import resolve_device
from collapse_sim.errors import ConfigError, first_line
from collapse_sim.models.diffusers_unet import SAMPLERS
from collapse_sim.trainers.ddpm import train_denoiser

CHAIN_FOLDER = "diffusers_unet"  # each chain's latest model, in its folder (a pipeline folder)


class Pretrained(NamedTuple):
    """A pretrained U-Net as its files give it: its config, its scheduler's (None without one), and the
    subfolder holding the U-Net (``unet`` in a pipeline folder, None in a U-Net's own)."""

    config: dict
    scheduler: dict | None
    subfolder: str | None


class DiffusersUNetTrainer(Trainer):
    """A diffusers ``UNet2DModel`` (the user's ``model``, or one of ``channels``), ``iterations`` steps a
    generation, sampled by a DDPM or DDIM scheduler (``sampler``)."""

    chain_bytes = 1.0e9  # a one-chain run on digits peaked at 1.05 GB with diffusers imported (ddpm: 1.0 GB)
    needs = data_of("image") | {"real data", "epoch progress"}
    sampling_options = ("steps", "guidance")  # what DiffusersImageModel.sample honours

    def __init__(
        self,
        *,
        model: str | None = None,
        hub: bool = False,
        channels: tuple[int, ...] = (16, 32),
        layers_per_block: int = 1,
        timesteps: int = 1000,
        sampler: str = "ddpm",
        iterations: int = 1000,
        batch: int = 64,
        lr: float = 2e-3,
        device: str = "auto",
        threads: int = 1,
    ) -> None:
        self.channels = tuple(positive_int("channels", c, minimum=8) for c in channels or ())
        if not self.channels or any(c % 8 for c in self.channels):
            raise ConfigError(
                "channels", f"must be a list of multiples of 8 (group norm of 8 groups), got {channels!r}"
            )
        self.layers_per_block = positive_int("layers_per_block", layers_per_block)
        self.timesteps = positive_int("timesteps", timesteps, minimum=10)
        if sampler not in SAMPLERS:
            raise ConfigError("sampler", f"must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
        self.sampler = sampler
        self.iterations, self.batch = positive_int("iterations", iterations), positive_int("batch", batch)
        self.threads = positive_int("threads", threads)
        if not lr > 0:
            raise ConfigError("lr", f"must be > 0, got {lr!r}")
        self.lr, self.device = float(lr), resolve_device(device)
        self.model, self.hub = (str(model) if model else None), bool(hub)
        # A pretrained U-Net's config, read at once: a folder that holds none is refused before any work.
        self.pretrained = _pretrained(self.model, self.hub) if self.model else None
        self.n_classes = self.progress = self.folder = self.base_state = None

    def unet_config(self, n_classes: int, size: tuple[int, int]) -> dict:
        """The U-Net's config: the pretrained one, or one of ``channels`` for ``n_classes`` at ``size``."""
        if self.pretrained is not None:
            return dict(self.pretrained.config)
        levels = len(self.channels)
        return {
            "sample_size": list(size),
            "in_channels": 1,
            "out_channels": 1,
            "block_out_channels": list(self.channels),
            "layers_per_block": self.layers_per_block,
            "down_block_types": ["DownBlock2D"] * levels,
            "up_block_types": ["UpBlock2D"] * levels,
            "norm_num_groups": 8,
            "num_class_embeds": n_classes + 1,  # the last class is "no class"
            "add_attention": False,  # as trainer=ddpm's U-Net: convolutions only
        }

    def scheduler_config(self) -> dict:
        """The training schedule: the pretrained model's, or DDPM's linear one of ``timesteps`` steps."""
        if self.pretrained is not None and self.pretrained.scheduler is not None:
            return dict(self.pretrained.scheduler)
        from collapse_sim.models.ddpm import BETA_END, BETA_START

        return {
            "num_train_timesteps": self.timesteps,
            "beta_schedule": "linear",
            # trainer=ddpm's: a shorter schedule keeps the end points (each step keeps 0.001 of the image)
            "beta_start": BETA_START * 1000 / self.timesteps,
            "beta_end": min(BETA_END * 1000 / self.timesteps, 0.999),
            "clip_sample": False,  # as trainer=ddpm samples
        }

    def check(self, sim) -> None:
        """The U-Net reads the source's images: one channel, its classes plus "no class", sides it can halve
        once per level."""
        truth = sim.source.truth
        config = self.unet_config(len(truth.names), truth.size)
        where = f"the U-Net of {self.model}" if self.model else "trainer.channels' U-Net"
        if config.get("in_channels") != 1 or config.get("out_channels") != 1:
            raise ConfigError(
                "trainer.model",
                f"{where} takes {config.get('in_channels')} channels in, {config.get('out_channels')} out; "
                "the source's images have one (grey): give a U-Net of in_channels=1 and out_channels=1",
            )
        classes = len(truth.names) + 1
        if config.get("num_class_embeds") != classes or config.get("class_embed_type") is not None:
            raise ConfigError(
                "trainer.model",
                f"{where} has num_class_embeds={config.get('num_class_embeds')} (class_embed_type="
                f"{config.get('class_embed_type')}); the source has {len(truth.names)} classes, so it needs "
                f"num_class_embeds={classes} (the last one: no class, for guidance) and no class_embed_type",
            )
        halvings = len(config.get("block_out_channels", ())) - 1
        height, width = truth.size
        if height % 2**halvings or width % 2**halvings:
            raise ConfigError(
                "trainer.channels" if not self.model else "trainer.model",
                f"{where} halves an image {halvings} times, so its sides must be multiples of "
                f"{2**halvings}; the source's images are {height}x{width}: use fewer levels",
            )

    def setup(self, context: RunContext) -> None:
        """The number of classes, the progress callback, the chain's folder, a pretrained model's weights."""
        self.n_classes, self.progress = len(context.real.truth.names), context.progress
        self.folder = Path(context.folder) if context.folder is not None else None
        if self.model:
            from collapse_sim.models.diffusers_unet import quiet_diffusers

            unet = quiet_diffusers(offline=not self.hub).UNet2DModel.from_pretrained(
                str(Path(self.model).expanduser()) if Path(self.model).expanduser().is_dir() else self.model,
                subfolder=self.pretrained.subfolder,
                local_files_only=not self.hub,
            )
            self.base_state = unet.state_dict()

    def fit(self, data, *, init=None, rng: np.random.Generator, generation: int):
        """A U-Net trained on ``data`` from the pretrained weights, ``init``'s (warm start) or fresh ones;
        written to the chain's folder with ``save_pretrained``."""
        import torch

        from collapse_sim.models.diffusers_unet import (
            DiffusersImageModel,
            build_unet,
            denoising_loss,
            quiet_diffusers,
        )

        if self.n_classes is None:
            raise RuntimeError("DiffusersUNetTrainer.fit before setup(context): the run hands it the classes")
        if self.device == "cpu":
            torch.set_num_threads(self.threads)
        torch.manual_seed(int(rng.integers(2**31)))
        config = self.unet_config(self.n_classes, data.size)
        start = self.base_state if self.base_state is not None else (init.state if init else None)
        schedule = quiet_diffusers().DDPMScheduler.from_config(self.scheduler_config())
        state = train_denoiser(
            build_unet(config, start),
            lambda net, images, labels: denoising_loss(net, schedule, images, labels, self.n_classes),
            data,
            rng,
            iterations=self.iterations,
            batch=self.batch,
            lr=self.lr,
            device=self.device,
            progress=self.progress,
        )
        model = DiffusersImageModel(
            config,
            state,
            dict(schedule.config),
            n_classes=self.n_classes,
            size=data.size,
            class_share=data.class_shares(self.n_classes),
            sampler=self.sampler,
            device=self.device,
        )
        if self.folder is not None:
            replace_folder(self.folder / CHAIN_FOLDER, model.save)
        return model


def _pretrained(model: str, hub: bool) -> Pretrained:
    """A pretrained U-Net's config, its scheduler's (None without one) and the subfolder holding the U-Net
    (``unet`` in a pipeline), or one paragraph saying why there is none: a missing folder, a hub id offline
    and a folder without a U-Net each at once."""
    from collapse_sim.models.diffusers_unet import SCHEDULER_FOLDER, UNET_FOLDER, quiet_diffusers

    folder = Path(model).expanduser()
    local = model.startswith((".", "/", "~")) or folder.exists()
    if local and not folder.is_dir():
        raise ConfigError("trainer.model", f"{model} is not a folder (a U-Net that save_pretrained wrote)")
    if hub and not local and os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ConfigError(
            "trainer.hub", f"is true, but HF_HUB_OFFLINE=1 in this environment: unset it to fetch {model}"
        )
    diffusers = quiet_diffusers(offline=not hub)
    where = str(folder) if local else model
    errors = []
    for subfolder in (None, UNET_FOLDER):  # a U-Net's own folder, or a pipeline's
        try:
            with (
                warnings.catch_warnings()
            ):  # huggingface_hub's deprecation notice of an argument diffusers passes
                warnings.simplefilter("ignore", UserWarning)
                config = diffusers.UNet2DModel.load_config(
                    where, subfolder=subfolder, local_files_only=not hub
                )
            break
        except (OSError, ValueError) as error:
            errors.append(first_line(error))
    else:
        offline = "" if hub or local else (
            " This run reads local files only (HF_HUB_OFFLINE=1): give the local folder save_pretrained "
            "wrote, or set trainer.hub=true where the network is, to fetch it once into the cache."
        )  # fmt: skip
        raise ConfigError(
            "trainer.model",
            f"{model!r} holds no diffusers U-Net that can be read ({errors[-1]}): give a folder with a "
            f"UNet2DModel's config.json and weights, or a pipeline folder with unet/.{offline}",
        )
    if config.get("_class_name", "UNet2DModel") != "UNet2DModel":
        raise ConfigError("trainer.model", f"{model!r} holds a {config['_class_name']}, not a UNet2DModel")
    scheduler = None
    for place in (SCHEDULER_FOLDER, None) if subfolder else (None,):
        try:
            scheduler = diffusers.DDPMScheduler.load_config(where, subfolder=place, local_files_only=not hub)
            break
        except (OSError, ValueError):  # a U-Net without its scheduler: DDPM's linear one
            continue

    def public(values: dict | None) -> dict | None:
        return {k: v for k, v in values.items() if not k.startswith("_")} if values else None

    return Pretrained(public(config), public(scheduler), subfolder)
