"""Where training runs: the CPU cores this process may use, and the device a trainer's setting names."""

from __future__ import annotations

import os
import re
import sys

from collapse_sim.errors import ConfigError


def available_cores() -> int:
    """Cores this process may use (its CPU affinity where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# What a loaded GPU driver leaves on Linux: NVIDIA's (CUDA), ROCm's (torch's cuda on AMD), WSL's.
GPU_DRIVER_FILES = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/kfd", "/dev/dxg")


def no_gpu_driver() -> bool:
    """On Linux, whether no GPU driver is loaded: torch would see no CUDA device, and importing it
    (about 2 s) only to hear so is skipped."""
    return sys.platform.startswith("linux") and not any(os.path.exists(p) for p in GPU_DRIVER_FILES)


def resolve_device(device: str) -> str:
    """``auto`` = first GPU when there is one, else CPU; ``cuda[:i]`` (or Ultralytics' bare index ``i``)
    only when CUDA is present."""
    device = f"cuda:{device}" if re.fullmatch(r"\d+", str(device)) else str(device)
    if device not in ("auto", "cpu") and not re.fullmatch(r"cuda(:\d+)?", device):
        raise ConfigError("device", f"must be auto, cpu, cuda, cuda:<index> or a GPU index, got {device!r}")
    if device == "cpu" or (device == "auto" and no_gpu_driver()):
        return "cpu"
    if no_gpu_driver():
        raise ConfigError(
            "device",
            f"asks for {device} but this machine has no GPU driver loaded (no CUDA device); "
            "use trainer.device=cpu or trainer.device=auto",
        )
    import torch

    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    index = int(device.partition(":")[2] or 0)
    if not torch.cuda.is_available() or index >= torch.cuda.device_count():
        found = torch.cuda.device_count() if torch.cuda.is_available() else 0
        raise ConfigError(
            "device",
            f"asks for {device} but this machine has {found} CUDA device(s) visible to torch; "
            "use trainer.device=cpu or trainer.device=auto",
        )
    return f"cuda:{index}"
